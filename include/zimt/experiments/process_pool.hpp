#pragma once
// Runs command lines as child processes, at most `parallel` at a time, each
// with stdout and stderr appended to its own log file. A child that fails or
// is killed is reported through on_finish and the others go on.
//
// SIGINT/SIGTERM received while jobs run are forwarded once to every running
// child (children run in their own process group, so a terminal Ctrl-C
// reaches them only through us); no new job starts after that, and
// run_processes returns when the running ones have exited. Children also get
// SIGTERM if this process dies (PR_SET_PDEATHSIG), so none is left orphaned.
#include <cstddef>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace zimt::experiments {

struct ProcessJob {
  std::vector<std::string> argv;  // argv[0] is the executable's path
  std::filesystem::path log;      // stdout + stderr, appended
};

struct ProcessOutcome {
  bool started = false;
  int exit_code = -1;  // when the child exited normally
  int signal = 0;      // when it was killed by a signal
  double seconds = 0;  // wall time
  bool ok() const { return started && signal == 0 && exit_code == 0; }
  std::string describe() const;  // "exit 0", "exit 2", "killed by signal 9 (Killed)", "not started"
};

struct ProcessEvents {
  std::function<void(std::size_t job)> on_start;
  std::function<void(std::size_t job, const ProcessOutcome&)> on_finish;
};

struct PoolResult {
  std::vector<ProcessOutcome> outcomes;  // one per job, in job order
  int stop_signal = 0;                   // SIGINT/SIGTERM that stopped the pool, or 0
};

// The stop signal received by the running pool so far, or 0.
int pool_stop_signal();

PoolResult run_processes(const std::vector<ProcessJob>& jobs, int parallel, const ProcessEvents& events);

}  // namespace zimt::experiments
