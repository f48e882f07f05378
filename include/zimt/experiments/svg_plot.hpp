#pragma once
// Line charts as standalone SVG: one line per series with an optional
// translucent band (mean ± std), nice axis ticks, axis labels, a legend placed
// in the plot corner that hides the fewest points, and a title. A series of
// few points (evaluations only at epoch ends) also gets a dot per point, and
// a one-point series an error bar, since its line and band have no length.
#include <string>
#include <vector>

namespace zimt::experiments {

struct PlotSeries {
  std::string name;
  std::vector<double> x, y;
  std::vector<double> lo, hi;  // band around y (same length as x), or empty
  int colour = -1;             // index into the palette, so a group keeps its colour on every chart; -1: its position
};

struct LineChart {
  std::string title, x_label, y_label;
  std::vector<PlotSeries> series;
  int width = 760, height = 470;
  // Bounds the values cannot cross (100 for a percentage): ticks past them
  // are dropped when the data does not need them.
  double y_floor = -1e300, y_ceil = 1e300;
  bool x_from_zero = false;  // the x axis starts at 0 (a training curve: the first evaluation is not the start)
};

// Ticks covering [lo, hi] at a step of 1, 2, 2.5 or 5 × 10^k, about `target`
// of them; the first tick is <= lo and the last >= hi.
std::vector<double> nice_ticks(double lo, double hi, int target);

// The chart as an SVG document (well-formed XML; each series is a
// <path class="series">, each band a <path class="band">, each dot a
// <circle class="marker">).
std::string render_svg(const LineChart& chart);

}  // namespace zimt::experiments
