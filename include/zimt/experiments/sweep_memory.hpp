#pragma once
// The memory guard rail of a sweep: the runs it trains at once must fit in
// the memory limit together, not only one by one. Each run's need is the
// training estimate of runs/memory_limit.hpp.
#include "zimt/experiments/sweep.hpp"
#include "zimt/experiments/sweep_runner.hpp"
#include "zimt/runs/memory_limit.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace zimt::experiments {

// The largest estimate among the runs of `runs` with a valid config, and
// that run's name and batch size (all zero / empty when there is none).
struct RunMemory {
  runs::MemoryEstimate estimate;
  uint64_t batch = 0;
  std::string run;
};
RunMemory largest_run_memory(const std::vector<const PlannedRun*>& runs);

// `budget` with at most limit / largest.total() jobs. Threads per job are
// derived again from `cores` unless `threads_per_job` (> 0) was asked for.
// Throws std::runtime_error with the estimate (check_memory's message) when
// not even one run fits.
ThreadBudget fit_jobs_in_memory(const ThreadBudget& budget, const RunMemory& largest, uint64_t limit,
                                bool limit_is_machine, int threads_per_job, int cores);

}  // namespace zimt::experiments
