// Sweep execution: run directories, skip/resume, progress (see zimt/experiments/sweep_runner.hpp).
#include "zimt/experiments/sweep_runner.hpp"

#include "zimt/experiments/sweep_files.hpp"
#include "zimt/runs/dir_lock.hpp"
#include "zimt/runs/progress.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>

namespace zimt::experiments {
namespace {

using nlohmann::json;

json read_json(const std::filesystem::path& path) {
  const std::string text = sweep_files::read_all(path);
  return json::parse(text, nullptr, /*allow_exceptions=*/false);
}

}  // namespace

const char* to_string(RunState state) {
  switch (state) {
    case RunState::fresh: return "new";
    case RunState::resumable: return "resume";
    case RunState::finished: return "done";
  }
  return "?";
}

RunState run_state(const PlannedRun& run, const std::filesystem::path& run_dir) {
  const json summary = read_json(run_dir / "summary.json");
  const json resolved = read_json(run_dir / "config.resolved.json");
  if (summary.is_object() && summary.value("status", "") == "finished" && resolved.is_object() &&
      config_hash(resolved) == run.hash)
    return RunState::finished;
  std::error_code ec;
  const bool has_checkpoints = std::filesystem::is_directory(run_dir / "checkpoints", ec) &&
                               !std::filesystem::is_empty(run_dir / "checkpoints", ec);
  if (has_checkpoints || std::filesystem::exists(run_dir / "metrics.jsonl", ec)) return RunState::resumable;
  return RunState::fresh;
}

ThreadBudget thread_budget(int jobs, int threads_per_job, int cores, std::size_t pending) {
  cores = std::max(cores, 1);
  ThreadBudget b;
  if (jobs > 0 && threads_per_job > 0)
    b = {jobs, threads_per_job};
  else if (jobs > 0)
    b = {jobs, std::max(1, cores / jobs)};
  else if (threads_per_job > 0)
    b = {std::max(1, cores / threads_per_job), threads_per_job};
  else {
    const int j = static_cast<int>(std::clamp<std::size_t>(pending, 1, static_cast<std::size_t>(cores)));
    b = {j, std::max(1, cores / j)};
  }
  return b;
}

SweepRunReport run_sweep(const SweepSpec& spec, const std::vector<PlannedRun>& runs, const SweepRunOptions& options,
                         std::ostream& log) {
  const runs::ProcessGroup* group = options.group;
  const bool writer = group == nullptr || group->rank() == 0;
  std::optional<runs::DirLock> lock;  // a second sweep on this output is refused
  if (writer) {
    lock.emplace(spec.output, "zimt sweep");
    sweep_files::write_atomic(spec.output / "plan.json", plan_to_json(spec, runs).dump(2) + "\n");
  }

  SweepRunReport report;
  std::vector<std::size_t> todo;  // indices into runs
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const std::filesystem::path dir = spec.output / runs[i].name;
    if (run_state(runs[i], dir) == RunState::finished) {
      ++report.skipped;
      continue;
    }
    if (writer) {
      std::filesystem::create_directories(dir);
      sweep_files::write_atomic(dir / "config.json", runs[i].config.dump(2) + "\n");
    }
    todo.push_back(i);
  }
  if (group) {
    // Every rank has seen the same finished runs before any trains (the sum
    // is collective, so no rank passes it before all have looked); each
    // keeps its share of the rest.
    int64_t arrived = 1;
    group->reducer().sum(&arrived, 1);
    std::vector<std::size_t> mine;
    for (std::size_t j = 0; j < todo.size(); ++j)
      if (j % static_cast<std::size_t>(group->size()) == static_cast<std::size_t>(group->rank()))
        mine.push_back(todo[j]);
    todo = std::move(mine);
    if (!writer) report.skipped = 0;  // counted once, by rank 0
  }
  log << "sweep " << spec.output.string() << ": " << runs.size() << " runs, " << report.skipped << " already done, "
      << todo.size() << " to run"
      << (group ? " on rank " + std::to_string(group->rank()) + " of " + std::to_string(group->size()) : "") << " ("
      << options.budget.jobs << " jobs x " << options.budget.threads_per_job << " threads)\n"
      << std::flush;

  std::vector<ProcessJob> jobs;
  for (std::size_t i : todo) {
    const std::filesystem::path dir = spec.output / runs[i].name;
    std::vector<std::string> args = {options.program,
                                     "train",
                                     (dir / "config.json").string(),
                                     "--resume",
                                     "--quiet",
                                     "--set",
                                     "/train/threads=" + std::to_string(options.budget.threads_per_job)};
    if (options.memory_per_job != 0) {
      args.push_back("--memory-limit");
      args.push_back(std::to_string(options.memory_per_job));
    }
    jobs.push_back({args, dir / "console.log"});
  }
  const auto t0 = std::chrono::steady_clock::now();
  const std::size_t total = jobs.size();
  std::size_t finished = 0;
  double finished_seconds = 0;  // summed durations of the runs finished so far
  std::vector<std::optional<std::chrono::steady_clock::time_point>> started(total);  // of the running jobs
  // ETA: the mean run time so far × runs left, less the time the running runs
  // have already put in, shared over the parallel slots.
  auto eta = [&](std::chrono::steady_clock::time_point now) {
    const double left = static_cast<double>(total - finished);
    double work = finished_seconds / static_cast<double>(finished) * left;
    for (const auto& t : started)
      if (t)
        work -=
            std::min(std::chrono::duration<double>(now - *t).count(), finished_seconds / static_cast<double>(finished));
    return std::max(0.0, work) / std::min(left, static_cast<double>(options.budget.jobs));
  };
  char counter[32];
  ProcessEvents events;
  events.on_start = [&](std::size_t j) {
    const PlannedRun& run = runs[todo[j]];
    started[j] = std::chrono::steady_clock::now();
    std::snprintf(counter, sizeof counter, "[%zu/%zu]", j + 1, total);
    log << counter << " start " << run.name << " (" << to_string(run_state(run, spec.output / run.name)) << ")\n"
        << std::flush;
  };
  events.on_finish = [&](std::size_t j, const ProcessOutcome& out) {
    const PlannedRun& run = runs[todo[j]];
    ++finished;
    finished_seconds += out.seconds;
    started[j].reset();
    const auto now = std::chrono::steady_clock::now();
    const double elapsed = std::chrono::duration<double>(now - t0).count();
    std::snprintf(counter, sizeof counter, "[%zu/%zu]", finished, total);
    const bool stopped = !out.ok() && pool_stop_signal() != 0;  // we asked it to stop; --resume continues it
    log << counter
        << (out.ok()  ? " done   "
            : stopped ? " stopped "
                      : " FAILED ")
        << run.name << " in " << runs::format_duration(out.seconds);
    if (!out.ok())
      log << " (" << out.describe() << ": " << sweep_files::last_line(spec.output / run.name / "console.log") << ")";
    log << " | elapsed " << runs::format_duration(elapsed);
    if (finished < total) log << ", ETA " << runs::format_duration(eta(now));
    log << "\n" << std::flush;
    if (!stopped) (out.ok() ? report.succeeded : report.failed) += 1;
  };
  const PoolResult pool = run_processes(jobs, options.budget.jobs, events);
  report.stop_signal = pool.stop_signal;
  if (group) {
    int64_t counts[] = {report.skipped, report.succeeded, report.failed};
    group->reducer().sum(counts, 3);
    report.skipped = static_cast<int>(counts[0]);
    report.succeeded = static_cast<int>(counts[1]);
    report.failed = static_cast<int>(counts[2]);
  }
  return report;
}

}  // namespace zimt::experiments
