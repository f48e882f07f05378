// `zimt sweep SWEEP.json [--jobs J] [--threads-per-job T] [--memory-limit M] [--dry-run] [--x step|epoch]`:
// expand a grid × seeds, train every run as a child `zimt train`, then write
// the aggregate report (see zimt/experiments/sweep.hpp and zimt/experiments/sweep_runner.hpp).
// The runs trained at once fit in the memory limit together (sweep_memory.hpp).
// Under `mpirun -np K`, the K ranks share the runs (docs/distributed.md).
#include "commands.hpp"
#include "launched_group.hpp"

#include "zimt/data/byte_size.hpp"
#include "zimt/data/machine_memory.hpp"
#include "zimt/experiments/sweep.hpp"
#include "zimt/experiments/sweep_memory.hpp"
#include "zimt/experiments/sweep_report.hpp"
#include "zimt/experiments/sweep_runner.hpp"
#include "zimt/runs/config.hpp"

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <thread>

namespace zimt::cli {
namespace {

// This very executable, so children run the same zimt.
std::string self_path() {
  std::error_code ec;
  const auto path = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) throw std::runtime_error("cannot locate the zimt executable (/proc/self/exe): " + ec.message());
  return path.string();
}

struct SweepOptions {
  std::string path;
  int jobs = 0;
  int threads_per_job = 0;
  bool dry_run = false;
  std::string x = "step";
  std::string output;
  std::string memory_limit;
  std::vector<std::string> overrides;
};

// The sweep on this process alone, or on its share of the runs of `group`
// (rank 0 alone prints the dry run and writes the report). Returns the exit code.
int sweep(const SweepOptions& o, const runs::ProcessGroup* group) {
  const experiments::ConfigResolver resolve = [&o](const nlohmann::json& config, const std::string& source) {
    return runs::resolve_config(config, o.overrides, source);
  };
  experiments::SweepSpec spec = experiments::load_sweep_file(o.path, runs::load_config_file, resolve);
  if (!o.output.empty()) spec.output = std::filesystem::absolute(o.output).lexically_normal();
  const std::vector<experiments::PlannedRun> runs = experiments::expand_sweep(spec, resolve);
  std::vector<const experiments::PlannedRun*> unfinished;
  for (const auto& run : runs)
    if (experiments::run_state(run, spec.output / run.name) != experiments::RunState::finished)
      unfinished.push_back(&run);
  std::size_t pending = unfinished.size();
  const std::size_t all_pending = pending;
  int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const bool machine_limit = o.memory_limit.empty();
  uint64_t memory = machine_limit ? data::machine_memory_limit() : runs::parse_memory_size(o.memory_limit);
  if (group) {
    // This rank's part of the machine, of its memory and of the runs.
    cores = std::max(1, cores / group->local_size());
    if (machine_limit) memory /= static_cast<uint64_t>(group->local_size());
    pending = (pending + static_cast<std::size_t>(group->size()) - 1) / static_cast<std::size_t>(group->size());
  }
  const experiments::ThreadBudget wanted = experiments::thread_budget(o.jobs, o.threads_per_job, cores, pending);
  const experiments::RunMemory largest = experiments::largest_run_memory(unfinished);
  const experiments::ThreadBudget budget =
      experiments::fit_jobs_in_memory(wanted, largest, memory, machine_limit, o.threads_per_job, cores);
  const bool writer = group == nullptr || group->rank() == 0;
  if (writer && budget.jobs < wanted.jobs)
    std::cout << budget.jobs << " jobs at once instead of " << wanted.jobs << ": each run needs up to about "
              << data::format_bytes(largest.estimate.total()) << " (" << largest.run << "), the memory limit is "
              << data::format_bytes(memory) << "\n";
  if (o.dry_run) {
    if (!writer) return 0;
    std::cout << spec.output.string() << ": " << runs.size() << " runs, " << runs.size() - all_pending << " done, "
              << all_pending << " to run (" << budget.jobs << " jobs x " << budget.threads_per_job << " threads";
    if (!largest.run.empty()) std::cout << ", up to " << data::format_bytes(largest.estimate.total()) << " each";
    std::cout << ")\n";
    for (const auto& run : runs) {
      std::printf("  %-6s %s\n", experiments::to_string(experiments::run_state(run, spec.output / run.name)),
                  run.name.c_str());
      if (!run.config_error.empty()) std::cout << "         invalid config: " << run.config_error << '\n';
    }
    return 0;
  }
  const experiments::SweepRunReport report = experiments::run_sweep(
      spec, runs, {self_path(), budget, group, memory / static_cast<uint64_t>(budget.jobs)}, std::cout);
  if (report.stop_signal != 0) {
    std::cout << "sweep interrupted (signal " << report.stop_signal << "); run the same command again to resume\n";
    return 128 + report.stop_signal;
  }
  if (!writer) return report.failed > 0 ? 1 : 0;
  const experiments::SweepAggregate agg = experiments::write_sweep_report(
      spec.output, o.x == "epoch" ? experiments::PlotX::epoch : experiments::PlotX::step);
  std::cout << '\n'
            << experiments::summary_markdown(agg) << "\nwrote " << (spec.output / "aggregate.csv").string()
            << ", summary.md, summary.json, test_acc.svg, test_loss.svg\n";
  if (report.failed > 0) {
    std::cout << report.failed << " run(s) failed; see console.log and train.log in their directories\n";
    return 1;
  }
  return 0;
}

}  // namespace

void add_sweep(CLI::App& app) {
  auto* cmd = app.add_subcommand("sweep", "Train a grid of configs x seeds in parallel (resumable), then report");
  auto opts = std::make_shared<SweepOptions>();
  cmd->add_option("sweep", opts->path, "Sweep file (JSON)")->required()->check(CLI::ExistingFile);
  cmd->add_option("-j,--jobs", opts->jobs, "Runs trained at once (default: fill the cores)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("-t,--threads-per-job", opts->threads_per_job, "Threads per run (default: cores / jobs)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("-o,--output", opts->output, "Sweep directory (default: the sweep file's \"output\")");
  cmd->add_option("--set", opts->overrides,
                  "Override a value of every run, /train/epochs=3 (repeatable; applied over the axes)");
  cmd->add_option("--memory-limit", opts->memory_limit,
                  "Memory the runs trained at once may need together (bytes, or 512M, 8G; default: the machine's); "
                  "fewer jobs run at once when they would not fit");
  cmd->add_flag("-n,--dry-run", opts->dry_run, "List the runs and their state (new / resume / done) without training");
  cmd->add_option("--x", opts->x, "Plot against step or epoch")
      ->check(CLI::IsMember({"step", "epoch"}))
      ->capture_default_str();
  cmd->callback([opts]() {
    // Under mpirun the ranks share the runs (sweep_runner.hpp).
    std::unique_ptr<runs::ProcessGroup> group = join_launched_group();
    int code = 0;
    try {
      code = sweep(*opts, group.get());
    } catch (const std::exception& e) {
      if (group && group->size() > 1) abort_group(*group, e);
      throw;
    }
    group.reset();  // every process leaves MPI before exiting
    if (code != 0) throw CLI::RuntimeError(code);
  });
}

}  // namespace zimt::cli
