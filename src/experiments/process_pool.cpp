// Child-process pool with signal forwarding (see zimt/experiments/process_pool.hpp).
#include "zimt/experiments/process_pool.hpp"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <stdexcept>
#include <string_view>
#include <thread>

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace zimt::experiments {
namespace {

volatile std::sig_atomic_t g_stop_signal = 0;

extern "C" void remember_stop_signal(int sig) { g_stop_signal = sig; }

// Installs the stop handlers for the lifetime of a pool run.
class StopSignals {
 public:
  StopSignals() {
    g_stop_signal = 0;
    struct sigaction sa {};
    sa.sa_handler = remember_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
  }
  ~StopSignals() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

 private:
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
};

// The children's environment: this process's without the variables an MPI
// launcher sets (OMPI_*, PMIX_*, PMI_*), so that a child zimt of a sweep
// spread over MPI ranks runs alone instead of taking itself for a rank.
std::vector<char*> child_environment() {
  std::vector<char*> env;
  for (char** var = environ; *var != nullptr; ++var) {
    const std::string_view v(*var);
    if (v.starts_with("OMPI_") || v.starts_with("PMIX_") || v.starts_with("PMI_")) continue;
    env.push_back(*var);
  }
  env.push_back(nullptr);
  return env;
}

// Starts one child; everything it needs is prepared before fork(), so the
// child calls only async-signal-safe functions until execve.
pid_t spawn(const ProcessJob& job) {
  std::vector<char*> argv;
  for (const std::string& a : job.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const std::vector<char*> env = child_environment();
  const std::string log = job.log.string();
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error(std::string("fork failed: ") + std::strerror(errno));
  if (pid > 0) return pid;
  ::setpgid(0, 0);
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (::getppid() != parent) ::_exit(126);
  const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  const int in = ::open("/dev/null", O_RDONLY);
  if (out < 0 || in < 0) ::_exit(126);
  ::dup2(in, 0);
  ::dup2(out, 1);
  ::dup2(out, 2);
  ::execve(argv[0], argv.data(), env.data());
  const char msg[] = "zimt: cannot execute the job's program\n";
  [[maybe_unused]] auto ignored = ::write(2, msg, sizeof msg - 1);
  ::_exit(127);
}

struct Running {
  std::size_t job;
  pid_t pid;
  std::chrono::steady_clock::time_point start;
};

}  // namespace

std::string ProcessOutcome::describe() const {
  if (!started) return "not started";
  if (signal != 0) return "killed by signal " + std::to_string(signal) + " (" + strsignal(signal) + ")";
  return "exit " + std::to_string(exit_code);
}

int pool_stop_signal() { return g_stop_signal; }

PoolResult run_processes(const std::vector<ProcessJob>& jobs, int parallel, const ProcessEvents& events) {
  if (parallel < 1) throw std::invalid_argument("run_processes: parallel must be >= 1");
  StopSignals stop_signals;
  PoolResult result;
  result.outcomes.resize(jobs.size());
  std::vector<Running> running;
  std::size_t next = 0;
  bool forwarded = false;
  while (next < jobs.size() || !running.empty()) {
    if (g_stop_signal != 0 && !forwarded) {
      for (const Running& r : running) ::kill(r.pid, g_stop_signal);
      forwarded = true;
      result.stop_signal = g_stop_signal;
    }
    while (!forwarded && next < jobs.size() && static_cast<int>(running.size()) < parallel) {
      if (events.on_start) events.on_start(next);
      running.push_back({next, spawn(jobs[next]), std::chrono::steady_clock::now()});
      result.outcomes[next].started = true;
      ++next;
    }
    if (forwarded && running.empty()) break;
    bool reaped = false;
    for (std::size_t i = 0; i < running.size(); ++i) {
      int status = 0;
      if (::waitpid(running[i].pid, &status, WNOHANG) != running[i].pid) continue;
      ProcessOutcome& out = result.outcomes[running[i].job];
      out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - running[i].start).count();
      if (WIFEXITED(status)) out.exit_code = WEXITSTATUS(status);
      if (WIFSIGNALED(status)) out.signal = WTERMSIG(status);
      const std::size_t job = running[i].job;
      running.erase(running.begin() + static_cast<std::ptrdiff_t>(i));
      if (events.on_finish) events.on_finish(job, out);
      reaped = true;
      break;
    }
    if (!reaped) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return result;
}

}  // namespace zimt::experiments
