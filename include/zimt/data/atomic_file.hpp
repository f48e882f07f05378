#pragma once
// Files that appear whole or not at all: data goes to a temporary file in the
// destination's directory, which is flushed to disk (fsync) and then renamed
// over the destination. A reader never sees a half-written file, and a failed
// or interrupted write leaves no file behind.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace zimt::data {

enum class Overwrite {
  refuse,   // an existing destination is an error: "<path>: already exists (pass --force to overwrite)"
  replace,  // an existing destination is replaced atomically
};

// A streaming atomic write. Errors throw std::runtime_error naming the path.
// Destroying it without commit() removes the temporary file.
class AtomicFile {
 public:
  AtomicFile(std::string path, Overwrite mode);
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile();

  void write(std::span<const uint8_t> bytes);
  void write(std::string_view bytes);
  // fsync, rename to the destination (checked again against `mode`), fsync the directory.
  void commit();

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::string temp_path_;
  Overwrite mode_;
  int fd_ = -1;
};

// Writes `bytes` to `path` atomically.
// Removes the temporary files of atomic writes in `dir` (not recursively)
// that a killed process left behind (".<name>.tmp.XXXXXX"); returns how many.
// Only for a directory the caller has locked (dir_lock.hpp), where no other
// process can be writing.
size_t remove_stale_temporaries(const std::string& dir);

void write_file_atomic(const std::string& path, std::string_view bytes, Overwrite mode = Overwrite::replace);

}  // namespace zimt::data
