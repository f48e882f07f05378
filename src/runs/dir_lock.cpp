#include "zimt/runs/dir_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <utility>

namespace zimt::runs {
namespace {

namespace fs = std::filesystem;

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "unknown host";
  return name;
}

// "zimt train (pid 1234 on box, started ...)" from the lock file's line, or a
// plain description when the holder has not written it (yet) or it is unreadable.
std::string describe_holder(int fd) {
  char buffer[1024];
  const ssize_t n = ::pread(fd, buffer, sizeof buffer - 1, 0);
  const nlohmann::json holder =
      nlohmann::json::parse(std::string(buffer, n > 0 ? static_cast<size_t>(n) : 0), nullptr, false);
  if (!holder.is_object() || !holder.contains("pid")) return "another process (it has not named itself)";
  return holder.value("command", std::string("a process")) + " (pid " + holder["pid"].dump() + " on " +
         holder.value("host", std::string("?")) + ", started " + holder.value("started", std::string("?")) + ")";
}

}  // namespace

DirLock::DirLock(const fs::path& dir, const std::string& command) : path_(dir / kFileName) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw std::runtime_error(dir.string() + ": cannot create the directory: " + ec.message());
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw std::runtime_error(path_.string() + ": cannot create the lock file: " + std::strerror(errno));
  while (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    const int err = errno;
    std::string message = err == EWOULDBLOCK
                              ? dir.string() + ": in use by " + describe_holder(fd_) + "; wait for it to end or stop it"
                              : path_.string() + ": cannot lock: " + std::strerror(err);
    ::close(fd_);
    fd_ = -1;
    if (err == EWOULDBLOCK) throw DirBusy(message);
    throw std::runtime_error(message);
  }
  const std::string line = nlohmann::json{{"command", command},
                                          {"pid", static_cast<long long>(::getpid())},
                                          {"host", host_name()},
                                          {"started", utc_now()}}
                               .dump() +
                           "\n";
  // The holder line is information for a refused process; failing to write it
  // (a full disk) leaves the lock itself intact, so it is not an error.
  if (::ftruncate(fd_, 0) == 0) {
    [[maybe_unused]] const ssize_t written = ::pwrite(fd_, line.data(), line.size(), 0);
  }
}

DirLock::DirLock(DirLock&& other) noexcept : path_(std::move(other.path_)), fd_(std::exchange(other.fd_, -1)) {}

DirLock::~DirLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace zimt::runs
