#pragma once
// Everything `zimt report DIR` writes for a sweep directory: aggregate.csv,
// summary.md, summary.json, test_acc.svg and test_loss.svg.
#include "zimt/experiments/aggregate.hpp"
#include "zimt/experiments/svg_plot.hpp"

#include <filesystem>
#include <string>

namespace zimt::experiments {

enum class PlotX { step, epoch };

// How a metric is drawn: accuracies (fractions in metrics.jsonl) in percent.
struct MetricAxis {
  double scale = 1;     // multiplies the logged values
  std::string what;     // for the chart title: "test accuracy", "test loss", else the metric's name
  std::string y_label;  // "test accuracy (%)", "test loss", ...
};
MetricAxis metric_axis(const std::string& metric);

// The chart of one metric's group means with ±1 std bands; `scale`
// multiplies values (100 for accuracy in percent). Group g keeps palette
// colour g even when another group has no values for the metric.
LineChart metric_chart(const SweepAggregate& agg, const std::string& metric, double scale, PlotX x,
                       const std::string& title, const std::string& y_label);

// Reads the sweep in `dir`, writes the report files there (atomically) and
// returns the aggregate.
SweepAggregate write_sweep_report(const std::filesystem::path& dir, PlotX x);

}  // namespace zimt::experiments
