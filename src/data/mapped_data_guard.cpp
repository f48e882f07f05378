#include "zimt/data/mapped_data_guard.hpp"

#include <unistd.h>

#include <csignal>
#include <cstring>
#include <mutex>

namespace zimt::data {
namespace {

constexpr char kMessage[] =
    "zimt: error: a dataset file shrank while in use (truncated or rewritten in place); stopped without writing "
    "anything more. Restore the file, then continue with --resume.\n";

extern "C" void on_bus_error(int) {
  // Only async-signal-safe calls: write(2) and _exit(2).
  [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, kMessage, sizeof kMessage - 1);
  ::_exit(1);
}

}  // namespace

void install_mapped_data_guard() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction action;
    std::memset(&action, 0, sizeof action);
    action.sa_handler = on_bus_error;
    sigemptyset(&action.sa_mask);
    ::sigaction(SIGBUS, &action, nullptr);
  });
}

}  // namespace zimt::data
