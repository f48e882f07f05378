// Comparison of labelled groups of run directories (see zimt/experiments/run_compare.hpp).
#include "zimt/experiments/run_compare.hpp"

#include "zimt/data/atomic_file.hpp"

#include <glob.h>

#include <algorithm>
#include <cctype>
#include <set>
#include <stdexcept>

namespace zimt::experiments {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// "runs/x/" -> "runs/x", "./runs/x" -> "runs/x": the name a user recognises.
fs::path tidy(const fs::path& p) {
  fs::path out = p.lexically_normal();
  if (out.filename().empty() && out.has_parent_path()) out = out.parent_path();
  return out;
}

// Logged metrics, or a config: zimt's config.resolved.json, the peer's
// config.json, which a sweep also writes into a run it has not started yet
// (listed then as unfinished, like `zimt report` does).
bool is_run_dir(const fs::path& dir) {
  std::error_code ec;
  for (const char* file : {"metrics.jsonl", "config.resolved.json", "config.json"})
    if (fs::is_regular_file(dir / file, ec)) return true;
  return false;
}

// The run directories `dir` stands for: itself, or else its immediate
// subdirectories that are run directories, sorted by name.
std::vector<fs::path> runs_in(const fs::path& dir) {
  if (is_run_dir(dir)) return {tidy(dir)};
  std::vector<fs::path> out;
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, ec))
    if (entry.is_directory(ec) && is_run_dir(entry.path())) out.push_back(tidy(entry.path()));
  std::sort(out.begin(), out.end());
  return out;
}

// The paths a glob pattern matches, sorted (glob(3) sorts).
std::vector<fs::path> glob_matches(const std::string& pattern) {
  glob_t g{};
  std::vector<fs::path> out;
  if (::glob(pattern.c_str(), 0, nullptr, &g) == 0)
    for (std::size_t i = 0; i < g.gl_pathc; ++i) out.emplace_back(g.gl_pathv[i]);
  ::globfree(&g);
  return out;
}

// One PATH of a group: a run directory, a directory of them, or a pattern
// matching either (matches that hold no run are passed over).
std::vector<fs::path> resolve_path(const std::string& path, const std::string& label) {
  if (path.empty()) throw std::runtime_error("group '" + label + "': empty path");
  std::error_code ec;
  if (path.find_first_of("*?[") != std::string::npos && !fs::exists(path, ec)) {
    std::vector<fs::path> runs;
    for (const fs::path& match : glob_matches(path))
      if (fs::is_directory(match, ec))
        for (fs::path& run : runs_in(match)) runs.push_back(std::move(run));
    if (runs.empty())
      throw std::runtime_error(path + ": matches no run directory (none holds metrics.jsonl or a config)");
    return runs;
  }
  if (!fs::exists(path, ec)) throw std::runtime_error(path + ": no such directory");
  if (!fs::is_directory(path, ec))
    throw std::runtime_error(
        path + ": not a directory (give a run directory, which holds metrics.jsonl, or a directory of them)");
  std::vector<fs::path> runs = runs_in(path);
  if (runs.empty())
    throw std::runtime_error(path +
                             ": not a run directory (no metrics.jsonl or config), and no subdirectory of it is one");
  return runs;
}

// A metric name as a file name: anything but [A-Za-z0-9_.-] becomes '_'.
std::string file_stem(const std::string& metric) {
  std::string out = metric;
  for (char& ch : out)
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-' || ch == '.')) ch = '_';
  return out;
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

}  // namespace

CompareGroup resolve_group(const std::string& arg) {
  CompareGroup group;
  std::vector<std::string> paths;
  const std::size_t eq = arg.find('=');
  // "LABEL=..." when the text before '=' could not be part of a path ("runs/a=b" stays a path).
  if (eq != std::string::npos && eq > 0 && arg.substr(0, eq).find('/') == std::string::npos) {
    group.label = arg.substr(0, eq);
    std::size_t begin = eq + 1;
    while (true) {
      const std::size_t comma = arg.find(',', begin);
      paths.push_back(arg.substr(begin, comma == std::string::npos ? std::string::npos : comma - begin));
      if (comma == std::string::npos) break;
      begin = comma + 1;
    }
  } else {
    if (arg.empty()) throw std::runtime_error("an empty GROUP argument (expected LABEL=PATH[,PATH...] or PATH)");
    group.label = tidy(fs::absolute(arg)).filename().string();
    paths.push_back(arg);
  }
  std::set<fs::path> seen;  // a run named twice (runs/x and runs/x/s1) counts once
  for (const std::string& path : paths)
    for (fs::path& run : resolve_path(path, group.label))
      if (seen.insert(fs::weakly_canonical(run)).second) group.runs.push_back(std::move(run));
  return group;
}

Comparison write_comparison(const std::vector<CompareGroup>& groups, const CompareOptions& options) {
  std::set<std::string> labels;
  std::vector<RunRecord> runs;
  for (const CompareGroup& group : groups) {
    if (!labels.insert(group.label).second)
      throw std::runtime_error("two groups are labelled '" + group.label + "': name them apart with LABEL=PATH");
    for (const fs::path& dir : group.runs) {
      RunRecord run = read_run_dir(dir);
      run.group = group.label;
      runs.push_back(std::move(run));
    }
  }
  Comparison out;
  out.agg = aggregate_runs(runs, StepSet::shared);
  const SweepAggregate& agg = out.agg;

  std::vector<std::string> metrics;
  for (const std::string& m : options.metrics)
    if (std::find(metrics.begin(), metrics.end(), m) == metrics.end()) metrics.push_back(m);
  const bool any_finished =
      std::any_of(agg.groups.begin(), agg.groups.end(), [](const GroupStats& g) { return g.finished > 0; });
  for (const std::string& m : metrics)
    if (any_finished && std::find(agg.metric_names.begin(), agg.metric_names.end(), m) == agg.metric_names.end())
      throw std::runtime_error("--metric " + m +
                               ": no finished run logs it (metrics.jsonl has: " + joined(agg.metric_names) + ")");

  out.markdown = summary_markdown(agg);
  if (!options.at_epochs.empty())
    out.markdown +=
        "\nTest accuracy (%) on the full test set at epoch ends:\n\n" + epoch_table_markdown(agg, options.at_epochs);
  out.markdown += "\nRuns aggregated:\n\n";
  for (const GroupStats& g : agg.groups)
    out.markdown += "- " + g.name + ": " + (g.members.empty() ? "none" : joined(g.members)) + "\n";
  std::string skipped;
  for (const GroupStats& g : agg.groups)
    if (g.skipped_steps > 0)
      skipped += "- " + g.name + ": " + std::to_string(g.skipped_steps) + " left out, " +
                 std::to_string(g.steps.size()) + " aggregated\n";
  if (!skipped.empty())
    out.markdown += "\nEvaluation steps not logged by every run of a group are left out:\n\n" + skipped;

  json summary = summary_json(agg);
  for (std::size_t i = 0; i < agg.groups.size(); ++i)
    summary["groups"][i]["skipped_steps"] = agg.groups[i].skipped_steps;
  summary["x"] = options.x == PlotX::step ? "step" : "epoch";
  summary["metrics"] = metrics;

  fs::create_directories(options.out_dir);
  auto write = [&](const std::string& name, const std::string& text) {
    data::write_file_atomic((options.out_dir / name).string(), text);
    out.files.push_back(name);
  };
  write("aggregate.csv", aggregate_csv(agg));
  write("summary.md", out.markdown);
  write("summary.json", summary.dump(2) + "\n");
  for (const std::string& m : metrics) {
    const MetricAxis axis = metric_axis(m);
    const std::string title = options.title + ": " + axis.what + " (mean ± 1 std over seeds)";
    write(file_stem(m) + ".svg", render_svg(metric_chart(agg, m, axis.scale, options.x, title, axis.y_label)));
  }
  return out;
}

}  // namespace zimt::experiments
