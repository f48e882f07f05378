#include "zimt/data/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace zimt::data {
namespace {

std::runtime_error os_error(const std::string& path, const std::string& what) {
  return std::runtime_error(path + ": " + what + ": " + std::strerror(errno));
}

std::runtime_error exists_error(const std::string& path) {
  return std::runtime_error(path + ": already exists (pass --force to overwrite)");
}

bool exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

std::string directory_of(const std::string& path) {
  const auto dir = std::filesystem::path(path).parent_path();
  return dir.empty() ? std::string(".") : dir.string();
}

void fsync_directory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;  // the rename is done; a directory we cannot open only weakens durability
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

AtomicFile::AtomicFile(std::string path, Overwrite mode) : path_(std::move(path)), mode_(mode) {
  if (mode_ == Overwrite::refuse && exists(path_)) throw exists_error(path_);
  const auto name = std::filesystem::path(path_).filename().string();
  temp_path_ = (std::filesystem::path(directory_of(path_)) / ("." + name + ".tmp.XXXXXX")).string();
  fd_ = ::mkstemp(temp_path_.data());
  if (fd_ < 0) throw os_error(path_, "cannot create a temporary file beside it");
  ::fchmod(fd_, 0644);
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!temp_path_.empty()) ::unlink(temp_path_.c_str());
}

void AtomicFile::write(std::span<const uint8_t> bytes) {
  if (fd_ < 0) throw std::logic_error(path_ + ": write after commit");
  const uint8_t* p = bytes.data();
  size_t left = bytes.size();
  while (left > 0) {
    const ssize_t n = ::write(fd_, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw os_error(path_, "write failed");
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
}

void AtomicFile::write(std::string_view bytes) {
  write(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
}

void AtomicFile::commit() {
  if (fd_ < 0) throw std::logic_error(path_ + ": commit twice");
  if (::fsync(fd_) != 0) throw os_error(path_, "fsync failed");
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) throw os_error(path_, "close failed");
  if (mode_ == Overwrite::refuse) {
    // Atomic "rename unless the destination exists", where the file system supports it.
    if (::renameat2(AT_FDCWD, temp_path_.c_str(), AT_FDCWD, path_.c_str(), RENAME_NOREPLACE) != 0) {
      if (errno == EEXIST) throw exists_error(path_);
      if (errno != EINVAL && errno != ENOSYS) throw os_error(path_, "rename failed");
      if (exists(path_)) throw exists_error(path_);
      if (::rename(temp_path_.c_str(), path_.c_str()) != 0) throw os_error(path_, "rename failed");
    }
  } else if (::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    throw os_error(path_, "rename failed");
  }
  temp_path_.clear();
  fsync_directory(directory_of(path_));
}

size_t remove_stale_temporaries(const std::string& dir) {
  size_t removed = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    const auto tag = name.rfind(".tmp.");
    if (name.starts_with(".") && tag != std::string::npos && name.size() == tag + 5 + 6 && entry.is_regular_file())
      removed += std::filesystem::remove(entry.path(), ec);
  }
  return removed;
}

void write_file_atomic(const std::string& path, std::string_view bytes, Overwrite mode) {
  AtomicFile f(path, mode);
  f.write(bytes);
  f.commit();
}

}  // namespace zimt::data
