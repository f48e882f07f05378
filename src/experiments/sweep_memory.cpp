#include "zimt/experiments/sweep_memory.hpp"

#include "zimt/runs/run_config.hpp"

#include <algorithm>

namespace zimt::experiments {

RunMemory largest_run_memory(const std::vector<const PlannedRun*>& runs) {
  RunMemory largest;
  for (const PlannedRun* run : runs) {
    if (!run->config_error.empty()) continue;  // reported by the run itself
    const runs::RunConfig c = runs::to_run_config(run->config, run->name);
    const runs::MemoryEstimate e = runs::estimate_training_memory(c.model, c.batch_size);
    if (largest.run.empty() || e.total() > largest.estimate.total()) largest = {e, c.batch_size, run->name};
  }
  return largest;
}

ThreadBudget fit_jobs_in_memory(const ThreadBudget& budget, const RunMemory& largest, uint64_t limit,
                                bool limit_is_machine, int threads_per_job, int cores) {
  if (largest.run.empty()) return budget;
  runs::check_memory(largest.estimate, largest.batch, limit, limit_is_machine, "run " + largest.run);
  const uint64_t fit = limit / std::max<uint64_t>(largest.estimate.total(), 1);
  if (fit >= static_cast<uint64_t>(budget.jobs)) return budget;
  const int jobs = static_cast<int>(fit);
  return {jobs, threads_per_job > 0 ? threads_per_job : std::max(1, std::max(cores, 1) / jobs)};
}

}  // namespace zimt::experiments
