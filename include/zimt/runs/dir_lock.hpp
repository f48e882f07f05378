#pragma once
// Exclusive use of a directory by one process: `zimt train` locks its run
// directory and `zimt sweep` its output directory, so a second process on the
// same directory is refused instead of writing into it too.
//
// The lock is an flock(2) on <dir>/.zimt.lock. The kernel drops it when the
// holder exits, however it exits (SIGKILL included), so a dead process never
// leaves a directory locked; the file itself may stay and means nothing alone.
// While held, the file names its holder in one JSON line
//   {"command":"zimt train","pid":1234,"host":"box","started":"2025-01-02T03:04:05Z"}
// which a refused process quotes:
//   "runs/tiny: in use by zimt train (pid 1234 on box, started
//    2025-01-02T03:04:05Z); wait for it to end or stop it"
// The descriptor is close-on-exec, so child processes do not inherit the lock.
#include <filesystem>
#include <stdexcept>
#include <string>

namespace zimt::runs {

// Thrown when another live process holds the lock.
class DirBusy : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class DirLock {
 public:
  static constexpr const char* kFileName = ".zimt.lock";

  // Creates `dir` if needed and locks it for `command` ("zimt train").
  // Throws DirBusy when another process holds it, std::runtime_error when the
  // directory or the lock file cannot be created.
  DirLock(const std::filesystem::path& dir, const std::string& command);
  DirLock(DirLock&& other) noexcept;
  DirLock& operator=(DirLock&&) = delete;
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;
  ~DirLock();  // closing the descriptor releases the lock

  const std::filesystem::path& path() const { return path_; }  // <dir>/.zimt.lock

 private:
  std::filesystem::path path_;
  int fd_ = -1;
};

}  // namespace zimt::runs
