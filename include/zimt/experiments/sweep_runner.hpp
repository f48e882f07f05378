#pragma once
// Runs a sweep plan: writes each run's config into its directory, skips the
// finished runs, and trains the others as child processes
//   <train_program> train <rundir>/config.json --resume --quiet --set /train/threads=T
//                   [--memory-limit BYTES]
// with its stdout and stderr appended to <rundir>/console.log (train keeps
// its own train.log; console.log also catches errors from before it opens
// one, such as an invalid config), printing one line per start and finish
// with elapsed time and an ETA for the whole sweep.
//
// Over a ProcessGroup (`mpirun -np K zimt sweep`, docs/distributed.md), rank
// 0 locks the output and writes the plan and the run configs; then every
// rank takes the unfinished runs whose position among them is its rank
// modulo K, and trains them as its own child processes.
#include "zimt/experiments/process_pool.hpp"
#include "zimt/experiments/sweep.hpp"
#include "zimt/runs/process_group.hpp"

#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

namespace zimt::experiments {

enum class RunState {
  fresh,      // nothing trained yet
  resumable,  // started before (metrics or checkpoints present), not finished
  finished,   // summary.json says finished and config.resolved.json hashes to the plan's hash
};
const char* to_string(RunState state);

RunState run_state(const PlannedRun& run, const std::filesystem::path& run_dir);

// Jobs × threads per job: fills `cores` without oversubscribing. A value
// given (> 0) is kept; the other is derived; with neither, jobs =
// min(pending, cores) and threads = cores / jobs.
struct ThreadBudget {
  int jobs = 1;
  int threads_per_job = 1;
};
ThreadBudget thread_budget(int jobs, int threads_per_job, int cores, std::size_t pending);

struct SweepRunOptions {
  std::string program;                        // the zimt executable
  ThreadBudget budget;                        // of this process
  const runs::ProcessGroup* group = nullptr;  // the ranks sharing the sweep; nullptr: this process alone
  uint64_t memory_per_job = 0;                // each run's --memory-limit; 0: the machine's
};

// Over a group, the run counts are the whole sweep's on every rank.
struct SweepRunReport {
  int skipped = 0;  // already finished
  int succeeded = 0;
  int failed = 0;       // not counting runs stopped by a forwarded signal
  int stop_signal = 0;  // the sweep was interrupted by this signal (on this rank)
};

// Writes <output>/plan.json (atomically) and the run configs, then runs what
// is not finished. Lines go to `log`.
SweepRunReport run_sweep(const SweepSpec& spec, const std::vector<PlannedRun>& runs, const SweepRunOptions& options,
                         std::ostream& log);

}  // namespace zimt::experiments
