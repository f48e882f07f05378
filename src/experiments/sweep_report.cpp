// Report files for a sweep directory (see zimt/experiments/sweep_report.hpp).
#include "zimt/experiments/sweep_report.hpp"

#include "zimt/experiments/sweep_files.hpp"

#include <algorithm>

namespace zimt::experiments {

MetricAxis metric_axis(const std::string& metric) {
  if (metric == "test_acc") return {100, "test accuracy", "test accuracy (%)"};
  if (metric == "train_acc") return {100, "train accuracy", "train accuracy (%)"};
  if (metric == "test_loss") return {1, "test loss", "test loss"};
  if (metric == "train_loss") return {1, "train loss", "train loss"};
  return {1, metric, metric};
}

LineChart metric_chart(const SweepAggregate& agg, const std::string& metric, double scale, PlotX x,
                       const std::string& title, const std::string& y_label) {
  LineChart chart;
  chart.title = title;
  chart.x_label = x == PlotX::step ? "step" : "epoch";
  chart.y_label = y_label;
  chart.x_from_zero = true;
  if (metric == "test_acc" || metric == "train_acc") {
    chart.y_floor = 0;
    chart.y_ceil = scale;
  }
  for (std::size_t k = 0; k < agg.groups.size(); ++k) {
    const GroupStats& g = agg.groups[k];
    PlotSeries s;
    s.name = g.name + " (n=" + std::to_string(g.finished) + ")";
    s.colour = static_cast<int>(k);
    bool any_std = false;
    for (const StepStats& step : g.steps) {
      const auto m = step.metrics.find(metric);
      const auto epoch = step.metrics.find("epoch");
      if (m == step.metrics.end() || (x == PlotX::epoch && epoch == step.metrics.end())) continue;
      s.x.push_back(x == PlotX::step ? static_cast<double>(step.step) : epoch->second.mean);
      s.y.push_back(scale * m->second.mean);
      const double sd = m->second.std ? scale * *m->second.std : 0.0;
      any_std = any_std || m->second.std.has_value();
      s.lo.push_back(std::max(s.y.back() - sd, chart.y_floor));  // accuracy stays within 0..100 %
      s.hi.push_back(std::min(s.y.back() + sd, chart.y_ceil));
    }
    if (!any_std) s.lo.clear(), s.hi.clear();
    if (!s.x.empty()) chart.series.push_back(std::move(s));
  }
  return chart;
}

SweepAggregate write_sweep_report(const std::filesystem::path& dir, PlotX x) {
  const SweepAggregate agg = aggregate_runs(read_sweep_runs(dir));
  sweep_files::write_atomic(dir / "aggregate.csv", aggregate_csv(agg));
  sweep_files::write_atomic(dir / "summary.md", summary_markdown(agg));
  sweep_files::write_atomic(dir / "summary.json", summary_json(agg).dump(2) + "\n");
  std::filesystem::path abs = std::filesystem::absolute(dir).lexically_normal();
  if (abs.filename().empty()) abs = abs.parent_path();  // "runs/x/"
  const std::string name = abs.filename().string();
  for (const std::string metric : {"test_acc", "test_loss"}) {
    const MetricAxis axis = metric_axis(metric);
    sweep_files::write_atomic(
        dir / (metric + ".svg"),
        render_svg(metric_chart(agg, metric, axis.scale, x, name + ": " + axis.what + " (mean ± 1 std over seeds)",
                                axis.y_label)));
  }
  return agg;
}

}  // namespace zimt::experiments
