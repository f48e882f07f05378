#pragma once
// Aggregation of runs over seeds, for `zimt report` (a sweep's groups) and
// `zimt compare` (groups named on the command line).
//
// Runs that differ only by seed form a group (the plan's "group", or a
// compare label). For each group and each evaluation step, every numeric
// metric of metrics.jsonl is summarised over the finished runs that logged
// it at that step: mean and sample standard deviation (n - 1 in the
// denominator; undefined, written empty / null, when n = 1). A metric that
// some runs do not log (the PyTorch peer has no `trials`) is summarised over
// the runs that do. Runs that are not finished are listed, not aggregated.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace zimt::experiments {

struct MeanStd {
  double mean = 0;
  std::optional<double> std;  // none when n < 2
  int n = 0;
};

// Mean and sample standard deviation of `xs`, summed in the given order.
MeanStd mean_std(const std::vector<double>& xs);

struct StepStats {
  std::int64_t step = 0;
  int n = 0;                               // runs that reached this step
  std::map<std::string, MeanStd> metrics;  // "test_acc" -> stats; includes "epoch"
};

struct RunRecord {
  std::string name;
  std::string group;
  std::int64_t seed = 0;  // the plan's, else the run's config (/train/seed, or the peer's /args/seed), else 0
  std::string status;     // summary.json status, or "missing"
  std::string last_log;   // last line of console.log (else train.log), for failed runs
  nlohmann::json summary;
  std::vector<nlohmann::json> metrics;  // metrics.jsonl, one object per line
};

struct GroupStats {
  std::string name;
  int runs = 0;                            // planned
  int finished = 0;                        // aggregated
  std::vector<std::string> members;        // names of the aggregated runs, in run order
  std::vector<StepStats> steps;            // increasing step
  int skipped_steps = 0;                   // StepSet::shared: steps not logged by every aggregated run
  std::map<std::string, MeanStd> summary;  // final_test_acc, best_test_acc, wall_s, images_per_s, ...
};

struct SweepAggregate {
  std::vector<GroupStats> groups;  // in plan order
  std::vector<RunRecord> unfinished;
  std::vector<std::string> metric_names;  // every numeric metric seen, sorted, without step/epoch
};

// One run directory, zimt's or the PyTorch peer's: summary.json (status
// "missing" when absent or unreadable), the metrics.jsonl lines with an
// integer step, the last line of console.log (else train.log), the seed of
// its config. `name` is the directory as given; `group` is left empty.
RunRecord read_run_dir(const std::filesystem::path& run_dir);

// Reads <dir>/plan.json and each run directory it names.
std::vector<RunRecord> read_sweep_runs(const std::filesystem::path& dir);

// Which evaluation steps of a group are aggregated.
enum class StepSet {
  reached,  // every step, over the runs that logged it (a sweep run stopped early counts until it stops)
  shared,   // only the steps every aggregated run of the group logged (runs with other eval schedules)
};

SweepAggregate aggregate_runs(const std::vector<RunRecord>& runs, StepSet steps = StepSet::reached);

// aggregate.csv: group,step,epoch,n,<metric>_mean,<metric>_std,...
std::string aggregate_csv(const SweepAggregate& agg);
// summary.md: one table row per group, then the unfinished runs.
std::string summary_markdown(const SweepAggregate& agg);
nlohmann::json summary_json(const SweepAggregate& agg);
// One table row per group: test accuracy (mean ± std over its aggregated
// runs, in percent) at each of `epochs`, from the evaluation logged exactly
// at that epoch on the group's largest test set (the full test set at epoch
// ends; subset evaluations are skipped); "–" where there is none.
std::string epoch_table_markdown(const SweepAggregate& agg, const std::vector<double>& epochs);

}  // namespace zimt::experiments
