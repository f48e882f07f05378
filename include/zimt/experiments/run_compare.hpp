#pragma once
// `zimt compare`: run directories from anywhere (zimt's, the PyTorch peer's)
// in labelled groups, aggregated over seeds as a sweep's groups are and drawn
// on one chart per metric.
//
// A group is "LABEL=PATH[,PATH...]" or a bare PATH (label: the directory's
// name). A PATH is a run directory (holds metrics.jsonl, or only a config for
// a run not started: listed as unfinished) or a directory whose immediate
// subdirectories include run directories; it may be a glob pattern
// (*, ?, [...]), expanded here when the shell left it alone, as it does for
// `sgd=runs/torch/cnn-sgd-s*`. Within a group, only the evaluation steps
// every finished run logged are aggregated (StepSet::shared), so runs with
// other eval schedules do not make the mean jump between seed counts.
#include "zimt/experiments/aggregate.hpp"
#include "zimt/experiments/sweep_report.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace zimt::experiments {

struct CompareGroup {
  std::string label;
  std::vector<std::filesystem::path> runs;  // run directories, each once, in the order given (a PATH's runs sorted)
};

// Parses and resolves one GROUP argument. Throws std::runtime_error naming
// the path when a PATH is empty, missing, matches nothing or holds no run
// directory.
CompareGroup resolve_group(const std::string& arg);

struct CompareOptions {
  std::filesystem::path out_dir = "compare";
  PlotX x = PlotX::step;
  std::vector<std::string> metrics = {"test_acc", "test_loss"};  // one SVG each (repeats are drawn once)
  std::string title = "zimt compare";
  std::vector<double> at_epochs;  // when set: a table of full-test accuracy at these epochs (epoch_table_markdown)
};

struct Comparison {
  SweepAggregate agg;
  std::string markdown;            // summary.md: the summary table, the epoch table (at_epochs),
                                   // unfinished runs, the runs of each group
  std::vector<std::string> files;  // the file names written into out_dir
};

// Reads the groups' runs and writes aggregate.csv, summary.md, summary.json
// and <metric>.svg into options.out_dir (created; every file atomically).
// Throws std::runtime_error for a label used twice or a metric no finished
// run logs.
Comparison write_comparison(const std::vector<CompareGroup>& groups, const CompareOptions& options);

}  // namespace zimt::experiments
