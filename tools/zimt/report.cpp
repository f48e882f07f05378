// `zimt report DIR [--x step|epoch]`: aggregate a sweep directory over seeds
// and write aggregate.csv, summary.md, summary.json and the SVG charts.
#include "commands.hpp"

#include "zimt/experiments/sweep_report.hpp"

#include <iostream>

namespace zimt::cli {

void add_report(CLI::App& app) {
  auto* cmd = app.add_subcommand("report", "Aggregate a sweep directory: CSV, Markdown/JSON summary, SVG charts");
  struct Options {
    std::string dir;
    std::string x = "step";
  };
  auto opts = std::make_shared<Options>();
  cmd->add_option("dir", opts->dir, "Sweep output directory (holds plan.json)")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--x", opts->x, "Plot against step or epoch")
      ->check(CLI::IsMember({"step", "epoch"}))
      ->capture_default_str();
  cmd->callback([opts]() {
    const experiments::SweepAggregate agg = experiments::write_sweep_report(
        opts->dir, opts->x == "epoch" ? experiments::PlotX::epoch : experiments::PlotX::step);
    std::cout << experiments::summary_markdown(agg) << "\nwrote " << opts->dir
              << "/{aggregate.csv, summary.md, summary.json, test_acc.svg, test_loss.svg}\n";
  });
}

}  // namespace zimt::cli
