// `zimt compare [-o DIR] [--x step|epoch] [--metric M ...] [--title T] GROUP...`:
// any run directories (zimt's or the PyTorch peer's) in labelled groups,
// aggregated over seeds onto one chart per metric (zimt/experiments/run_compare.hpp).
#include "commands.hpp"

#include "zimt/experiments/run_compare.hpp"

#include <iostream>
#include <memory>
#include <string>
#include <vector>

namespace zimt::cli {

void add_compare(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "compare",
      "Aggregate labelled groups of any run directories (zimt's, the PyTorch peer's): CSV, summary, SVG charts");
  struct Options {
    std::vector<std::string> groups;
    std::string out = "compare";
    std::string x = "step";
    std::vector<std::string> metrics;  // charted after test_acc and test_loss
    std::string title = "zimt compare";
    std::vector<double> at_epochs;
  };
  auto opts = std::make_shared<Options>();
  cmd->add_option("groups", opts->groups,
                  "LABEL=PATH[,PATH...] or PATH (label: the directory's name). A PATH is a run directory (holds "
                  "metrics.jsonl or a config), a directory of run directories, or a glob pattern of either")
      ->required();
  cmd->add_option("-o,--out", opts->out, "Output directory (created)")->capture_default_str();
  cmd->add_option("--x", opts->x, "Plot against step or epoch")
      ->check(CLI::IsMember({"step", "epoch"}))
      ->capture_default_str();
  cmd->add_option("--metric", opts->metrics,
                  "Another metric of metrics.jsonl to chart, e.g. train_acc (repeatable or a,b; test_acc and test_loss "
                  "always are)")
      ->allow_extra_args(false)
      ->delimiter(',');
  cmd->add_option("--title", opts->title, "Chart title prefix")->capture_default_str();
  cmd->add_option("--at-epochs", opts->at_epochs,
                  "Also tabulate each group's test accuracy on the full test set at these epochs, e.g. 1,2,5,10")
      ->allow_extra_args(false)
      ->delimiter(',')
      ->check(CLI::PositiveNumber);
  cmd->footer(
      "Runs in one group are aggregated over seeds like a sweep group: mean and ±1 sample std at the\n"
      "evaluation steps every finished run of the group logged; unfinished runs are listed, not aggregated.\n"
      "Writes aggregate.csv, summary.md, summary.json and <metric>.svg into the output directory and prints\n"
      "the summary table.\n"
      "\n"
      "Example (integer ZIM from a sweep against the PyTorch peer's float SGD, three seeds each):\n"
      "  zimt compare -o runs/compare/cnn --title 'MNIST CNN' --x epoch --at-epochs 1,10 \\\n"
      "      'zim=runs/sweeps/cnn/zim-dense-s*' 'float "
      "sgd=runs/torch/cnn-sgd-s1,runs/torch/cnn-sgd-s2,runs/torch/cnn-sgd-s3'");
  cmd->callback([opts]() {
    experiments::CompareOptions options;
    options.out_dir = opts->out;
    options.x = opts->x == "epoch" ? experiments::PlotX::epoch : experiments::PlotX::step;
    options.metrics.insert(options.metrics.end(), opts->metrics.begin(), opts->metrics.end());
    options.title = opts->title;
    options.at_epochs = opts->at_epochs;
    std::vector<experiments::CompareGroup> groups;
    for (const std::string& arg : opts->groups) groups.push_back(experiments::resolve_group(arg));
    const experiments::Comparison result = experiments::write_comparison(groups, options);
    std::cout << result.markdown << "\nwrote " << opts->out << "/{";
    for (std::size_t i = 0; i < result.files.size(); ++i) std::cout << (i ? ", " : "") << result.files[i];
    std::cout << "}\n";
  });
}

}  // namespace zimt::cli
