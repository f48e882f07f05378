// Seed aggregation of sweep runs (see zimt/experiments/aggregate.hpp).
#include "zimt/experiments/aggregate.hpp"

#include "zimt/experiments/sweep.hpp"
#include "zimt/experiments/sweep_files.hpp"
#include "zimt/runs/progress.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <stdexcept>
#include <utility>

namespace zimt::experiments {
namespace {

using nlohmann::json;

std::string fmt(double v, const char* format = "%.9g") {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

// Numeric fields of a JSON object (booleans excluded).
std::map<std::string, double> numeric_fields(const json& obj) {
  std::map<std::string, double> out;
  if (!obj.is_object()) return out;
  for (const auto& [key, value] : obj.items())
    if (value.is_number()) out[key] = value.get<double>();
  return out;
}

json stats_json(const MeanStd& s) {
  return {{"mean", s.mean}, {"std", s.std ? json(*s.std) : json(nullptr)}, {"n", s.n}};
}

// "95.12 ± 0.34" in percent, or "95.12" when there is one run, "–" for none.
std::string percent(const std::map<std::string, MeanStd>& summary, const std::string& key) {
  const auto it = summary.find(key);
  if (it == summary.end() || it->second.n == 0) return "–";
  std::string s = fmt(100 * it->second.mean, "%.2f");
  if (it->second.std) s += " ± " + fmt(100 * *it->second.std, "%.2f");
  return s;
}

}  // namespace

MeanStd mean_std(const std::vector<double>& xs) {
  MeanStd s;
  s.n = static_cast<int>(xs.size());
  if (xs.empty()) return s;
  double sum = 0;
  for (double x : xs) sum += x;
  s.mean = sum / static_cast<double>(xs.size());
  if (xs.size() >= 2) {
    double ss = 0;
    for (double x : xs) ss += (x - s.mean) * (x - s.mean);
    s.std = std::sqrt(ss / static_cast<double>(xs.size() - 1));
  }
  return s;
}

RunRecord read_run_dir(const std::filesystem::path& run_dir) {
  RunRecord rec;
  rec.name = run_dir.string();
  rec.summary = json::parse(sweep_files::read_all(run_dir / "summary.json"), nullptr, false);
  rec.status = rec.summary.is_object() ? rec.summary.value("status", "missing") : "missing";
  rec.last_log = sweep_files::last_line(run_dir / "console.log");  // a sweep child's stderr: errors land here
  if (rec.last_log.empty()) rec.last_log = sweep_files::last_line(run_dir / "train.log");
  // zimt writes config.resolved.json (/train/seed), the PyTorch peer config.json (/args/seed).
  for (const auto& [file, pointer] :
       {std::pair{"config.resolved.json", "/train/seed"}, std::pair{"config.json", "/args/seed"}}) {
    const json config = json::parse(sweep_files::read_all(run_dir / file), nullptr, false);
    const json::json_pointer ptr(pointer);
    if (config.is_object() && config.contains(ptr) && config[ptr].is_number_integer()) {
      rec.seed = config[ptr].get<std::int64_t>();
      break;
    }
  }
  // Every complete line is a record; a final line without its newline is an
  // append cut short by a kill and is left out. Anything else is damage the
  // user has to know about, so it stops the command.
  const std::string text = sweep_files::read_all(run_dir / "metrics.jsonl");
  std::size_t begin = 0;
  for (std::int64_t number = 1;; ++number) {
    const std::size_t end = text.find('\n', begin);
    if (end == std::string::npos) break;
    json m = json::parse(text.begin() + static_cast<std::ptrdiff_t>(begin),
                         text.begin() + static_cast<std::ptrdiff_t>(end), nullptr, false);
    if (!m.is_object() || !m.contains("step") || !m["step"].is_number_integer())
      throw std::runtime_error((run_dir / "metrics.jsonl").string() + ":" + std::to_string(number) +
                               ": not a metrics record (a JSON object with an integer \"step\")");
    rec.metrics.push_back(std::move(m));
    begin = end + 1;
  }
  return rec;
}

std::vector<RunRecord> read_sweep_runs(const std::filesystem::path& dir) {
  const std::string plan_text = sweep_files::read_all(dir / "plan.json");
  const json plan = json::parse(plan_text, nullptr, false);
  if (!plan.is_object() || !plan.contains("runs") || !plan["runs"].is_array())
    throw std::runtime_error((dir / "plan.json").string() + ": missing or not a sweep plan (run `zimt sweep` first)");
  std::vector<RunRecord> runs;
  for (const json& r : plan["runs"]) {
    const std::filesystem::path run_dir = dir / r.value("name", "");
    RunRecord rec = read_run_dir(run_dir);
    rec.name = r.value("name", "");
    rec.group = r.value("group", "");
    rec.seed = r.value("seed", std::int64_t{0});
    if (rec.status == "finished" && config_hash(json::parse(sweep_files::read_all(run_dir / "config.resolved.json"),
                                                            nullptr, false)) != r.value("hash", ""))
      rec.status = "stale (config differs from the plan)";
    runs.push_back(std::move(rec));
  }
  return runs;
}

SweepAggregate aggregate_runs(const std::vector<RunRecord>& runs, StepSet step_set) {
  SweepAggregate agg;
  std::set<std::string> metric_names;
  std::map<std::string, std::size_t> group_index;
  std::vector<std::vector<const RunRecord*>> members;
  for (const RunRecord& run : runs) {
    auto [it, inserted] = group_index.emplace(run.group, agg.groups.size());
    if (inserted) {
      agg.groups.push_back({});
      agg.groups.back().name = run.group;
      members.emplace_back();
    }
    agg.groups[it->second].runs += 1;
    if (run.status != "finished") {
      agg.unfinished.push_back(run);
      continue;
    }
    agg.groups[it->second].finished += 1;
    agg.groups[it->second].members.push_back(run.name);
    members[it->second].push_back(&run);
  }
  for (std::size_t g = 0; g < agg.groups.size(); ++g) {
    GroupStats& group = agg.groups[g];
    // step -> metric -> values over the group's runs, in run order; a step
    // logged twice by one run (a resumed run) counts once, the last line.
    std::map<std::int64_t, std::map<std::string, std::vector<double>>> values;
    std::map<std::int64_t, int> runs_at_step;
    std::map<std::string, std::vector<double>> summary_values;
    for (const RunRecord* run : members[g]) {
      std::map<std::int64_t, std::map<std::string, double>> by_step;
      for (const json& m : run->metrics) by_step[m["step"].get<std::int64_t>()] = numeric_fields(m);
      for (auto& [step, fields] : by_step) {
        runs_at_step[step] += 1;
        for (const auto& [key, v] : fields) {
          if (key == "step") continue;
          values[step][key].push_back(v);
          if (key != "epoch") metric_names.insert(key);
        }
      }
      for (const auto& [key, v] : numeric_fields(run->summary)) summary_values[key].push_back(v);
    }
    for (const auto& [step, metrics] : values) {
      if (step_set == StepSet::shared && runs_at_step[step] < group.finished) {
        group.skipped_steps += 1;
        continue;
      }
      StepStats s;
      s.step = step;
      s.n = runs_at_step[step];
      for (const auto& [key, xs] : metrics) s.metrics[key] = mean_std(xs);
      group.steps.push_back(std::move(s));
    }
    for (const auto& [key, xs] : summary_values) group.summary[key] = mean_std(xs);
  }
  agg.metric_names.assign(metric_names.begin(), metric_names.end());
  return agg;
}

std::string aggregate_csv(const SweepAggregate& agg) {
  std::string out = "group,step,epoch,n";
  for (const std::string& m : agg.metric_names) out += "," + m + "_mean," + m + "_std";
  out += "\n";
  for (const GroupStats& group : agg.groups)
    for (const StepStats& s : group.steps) {
      const auto epoch = s.metrics.find("epoch");
      out += group.name + "," + std::to_string(s.step) + "," +
             (epoch != s.metrics.end() ? fmt(epoch->second.mean) : "") + "," + std::to_string(s.n);
      for (const std::string& m : agg.metric_names) {
        const auto it = s.metrics.find(m);
        out += ',';
        if (it != s.metrics.end()) out += fmt(it->second.mean);
        out += ',';
        if (it != s.metrics.end() && it->second.std) out += fmt(*it->second.std);
      }
      out += "\n";
    }
  return out;
}

std::string summary_markdown(const SweepAggregate& agg) {
  std::string out =
      "| group | runs | final test acc (%) | best test acc (%) | wall time / run | images/s |\n"
      "|---|---|---|---|---|---|\n";
  for (const GroupStats& g : agg.groups) {
    const auto wall = g.summary.find("wall_s");
    const auto ips = g.summary.find("images_per_s");
    out += "| " + g.name + " | " + std::to_string(g.finished) + "/" + std::to_string(g.runs) + " | " +
           percent(g.summary, "final_test_acc") + " | " + percent(g.summary, "best_test_acc") + " | " +
           (wall != g.summary.end() && wall->second.n > 0 ? runs::format_duration(wall->second.mean) : "–") + " | " +
           (ips != g.summary.end() && ips->second.n > 0 ? fmt(ips->second.mean, "%.0f") : "–") + " |\n";
  }
  out += "\nMean ± sample standard deviation over the finished seeds of each group.\n";
  if (!agg.unfinished.empty()) {
    out += "\nNot aggregated (not finished):\n\n";
    for (const RunRecord& r : agg.unfinished)
      out += "- " + r.name + ": " + r.status + (r.last_log.empty() ? "" : " — `" + r.last_log + "`") + "\n";
  }
  return out;
}

std::string epoch_table_markdown(const SweepAggregate& agg, const std::vector<double>& epochs) {
  std::string out = "| group | runs |", rule = "|---|---|";
  for (double e : epochs) {
    out += " epoch " + fmt(e, "%g") + " |";
    rule += "---|";
  }
  out += "\n" + rule + "\n";
  const auto samples = [](const StepStats& s) {
    const auto it = s.metrics.find("eval_samples");
    return it == s.metrics.end() ? 0.0 : it->second.mean;
  };
  for (const GroupStats& g : agg.groups) {
    double full = 0;  // the group's largest test set
    for (const StepStats& s : g.steps) full = std::max(full, samples(s));
    out += "| " + g.name + " | " + std::to_string(g.finished) + " |";
    for (double e : epochs) {
      std::string cell = "–";
      for (const StepStats& s : g.steps) {
        const auto epoch = s.metrics.find("epoch");
        if (epoch != s.metrics.end() && std::fabs(epoch->second.mean - e) < 1e-9 && samples(s) == full)
          cell = percent(s.metrics, "test_acc");
      }
      out += " " + cell + " |";
    }
    out += "\n";
  }
  return out;
}

json summary_json(const SweepAggregate& agg) {
  json out = {{"groups", json::array()}, {"unfinished", json::array()}};
  for (const GroupStats& g : agg.groups) {
    json jg = {{"group", g.name}, {"runs", g.runs}, {"finished", g.finished}, {"members", g.members}};
    for (const auto& [key, s] : g.summary) jg[key] = stats_json(s);
    out["groups"].push_back(std::move(jg));
  }
  for (const RunRecord& r : agg.unfinished)
    out["unfinished"].push_back(
        {{"run", r.name}, {"group", r.group}, {"seed", r.seed}, {"status", r.status}, {"last_log", r.last_log}});
  return out;
}

}  // namespace zimt::experiments
