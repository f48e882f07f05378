// `zimt sweep SWEEP.json [--jobs J] [--threads-per-job T] [--dry-run] [--x step|epoch]`:
// expand a grid × seeds, train every run as a child `zimt train`, then write
// the aggregate report (see zimt/experiments/sweep.hpp and zimt/experiments/sweep_runner.hpp).
#include "commands.hpp"

#include "zimt/experiments/sweep.hpp"
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

}  // namespace

void add_sweep(CLI::App& app) {
  auto* cmd = app.add_subcommand("sweep", "Train a grid of configs x seeds in parallel (resumable), then report");
  struct Options {
    std::string path;
    int jobs = 0;
    int threads_per_job = 0;
    bool dry_run = false;
    std::string x = "step";
    std::string output;
    std::vector<std::string> overrides;
  };
  auto opts = std::make_shared<Options>();
  cmd->add_option("sweep", opts->path, "Sweep file (JSON)")->required()->check(CLI::ExistingFile);
  cmd->add_option("-j,--jobs", opts->jobs, "Runs trained at once (default: fill the cores)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("-t,--threads-per-job", opts->threads_per_job, "Threads per run (default: cores / jobs)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("-o,--output", opts->output, "Sweep directory (default: the sweep file's \"output\")");
  cmd->add_option("--set", opts->overrides,
                  "Override a value of every run, /train/epochs=3 (repeatable; applied over the axes)");
  cmd->add_flag("-n,--dry-run", opts->dry_run, "List the runs and their state (new / resume / done) without training");
  cmd->add_option("--x", opts->x, "Plot against step or epoch")
      ->check(CLI::IsMember({"step", "epoch"}))
      ->capture_default_str();
  cmd->callback([opts]() {
    const experiments::ConfigResolver resolve = [opts](const nlohmann::json& config, const std::string& source) {
      return runs::resolve_config(config, opts->overrides, source);
    };
    experiments::SweepSpec spec = experiments::load_sweep_file(opts->path, runs::load_config_file, resolve);
    if (!opts->output.empty()) spec.output = std::filesystem::absolute(opts->output).lexically_normal();
    const std::vector<experiments::PlannedRun> runs = experiments::expand_sweep(spec, resolve);
    std::size_t pending = 0;
    for (const auto& run : runs)
      pending += experiments::run_state(run, spec.output / run.name) != experiments::RunState::finished;
    const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    const experiments::ThreadBudget budget =
        experiments::thread_budget(opts->jobs, opts->threads_per_job, cores, pending);
    if (opts->dry_run) {
      std::cout << spec.output.string() << ": " << runs.size() << " runs, " << runs.size() - pending << " done, "
                << pending << " to run (" << budget.jobs << " jobs x " << budget.threads_per_job << " threads)\n";
      for (const auto& run : runs) {
        std::printf("  %-6s %s\n", experiments::to_string(experiments::run_state(run, spec.output / run.name)),
                    run.name.c_str());
        if (!run.config_error.empty()) std::cout << "         invalid config: " << run.config_error << '\n';
      }
      return;
    }
    const experiments::SweepRunReport report = experiments::run_sweep(spec, runs, {self_path(), budget}, std::cout);
    if (report.stop_signal != 0) {
      std::cout << "sweep interrupted (signal " << report.stop_signal << "); run the same command again to resume\n";
      throw CLI::RuntimeError(128 + report.stop_signal);
    }
    const experiments::SweepAggregate agg = experiments::write_sweep_report(
        spec.output, opts->x == "epoch" ? experiments::PlotX::epoch : experiments::PlotX::step);
    std::cout << '\n'
              << experiments::summary_markdown(agg) << "\nwrote " << (spec.output / "aggregate.csv").string()
              << ", summary.md, summary.json, test_acc.svg, test_loss.svg\n";
    if (report.failed > 0) {
      std::cout << report.failed << " run(s) failed; see console.log and train.log in their directories\n";
      throw CLI::RuntimeError(1);
    }
  });
}

}  // namespace zimt::cli
