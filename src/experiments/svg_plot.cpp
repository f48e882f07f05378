// SVG line charts (see zimt/experiments/svg_plot.hpp).
#include "zimt/experiments/svg_plot.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace zimt::experiments {
namespace {

// Tableau 10: distinct on white, the matplotlib default cycle.
constexpr const char* kColours[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

std::string escape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += ch;
    }
  }
  return out;
}

// A tick label with as many decimals as the tick step needs.
std::string tick_label(double v, double step) {
  int decimals = 0;
  while (decimals < 6 &&
         std::fabs(step * std::pow(10.0, decimals) - std::round(step * std::pow(10.0, decimals))) > 1e-6)
    ++decimals;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, std::fabs(v) < step * 1e-9 ? 0.0 : v);
  return buf;
}

struct Range {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -std::numeric_limits<double>::infinity();
  void add(double v) {
    if (!std::isfinite(v)) return;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  bool empty() const { return lo > hi; }
};

// Series with at most this many points get a dot per point.
constexpr std::size_t kMarkedPoints = 24;

// Approximate rendered width of `text` at `font_px` in a sans-serif face.
double text_width(const std::string& text, double font_px) { return 0.58 * font_px * static_cast<double>(text.size()); }

}  // namespace

std::vector<double> nice_ticks(double lo, double hi, int target) {
  if (!(hi > lo)) {
    const double pad = lo == 0 ? 1 : std::fabs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  const double raw = (hi - lo) / std::max(1, target - 1);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = 10 * mag;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  std::vector<double> ticks;
  const double first = std::floor(lo / step + 1e-9) * step;
  for (double t = first; t < hi + step * (1 - 1e-9); t += step) ticks.push_back(t);
  if (ticks.back() < hi - step * 1e-9) ticks.push_back(ticks.back() + step);
  return ticks;
}

std::string render_svg(const LineChart& chart) {
  const double W = chart.width, H = chart.height;
  const double left = 72, right = 24, top = 48, bottom = 58;
  const double pw = W - left - right, ph = H - top - bottom;

  Range xr, yr;
  for (const PlotSeries& s : chart.series)
    for (std::size_t i = 0; i < s.x.size(); ++i) {
      xr.add(s.x[i]);
      yr.add(s.y[i]);
      if (!s.lo.empty()) {
        yr.add(s.lo[i]);
        yr.add(s.hi[i]);
      }
    }
  if (chart.x_from_zero && !xr.empty() && xr.lo > 0) xr.lo = 0;
  if (xr.empty()) xr = {0, 1};
  if (yr.empty()) yr = {0, 1};
  const std::vector<double> xt = nice_ticks(xr.lo, xr.hi, 7);
  std::vector<double> yt = nice_ticks(yr.lo, yr.hi, 6);
  while (yt.size() > 2 && yt.back() > chart.y_ceil && yt[yt.size() - 2] >= yr.hi) yt.pop_back();
  while (yt.size() > 2 && yt.front() < chart.y_floor && yt[1] <= yr.lo) yt.erase(yt.begin());
  const double x0 = xt.front(), x1 = xt.back(), y0 = yt.front(), y1 = yt.back();
  auto px = [&](double x) { return left + (x - x0) / (x1 - x0) * pw; };
  auto py = [&](double y) { return top + ph - (y - y0) / (y1 - y0) * ph; };

  std::string svg;
  svg += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  svg += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + num(W) + "\" height=\"" + num(H) + "\" viewBox=\"0 0 " +
         num(W) + " " + num(H) + "\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n";
  svg += "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n";
  svg += "<defs><clipPath id=\"plot-area\"><rect x=\"" + num(left) + "\" y=\"" + num(top) + "\" width=\"" + num(pw) +
         "\" height=\"" + num(ph) + "\"/></clipPath></defs>\n";
  // A long title shrinks (bold text is ~10 % wider than text_width's face)
  // to fit the whole width instead of running off both edges.
  const double title_px = std::min(16.0, (W - 20) / (1.1 * text_width(chart.title, 1.0)));
  svg += "<text x=\"" + num(W / 2) + "\" y=\"28\" text-anchor=\"middle\" font-size=\"" + num(title_px) +
         "\" font-weight=\"bold\" fill=\"#222\">" + escape(chart.title) + "</text>\n";

  // Grid and tick labels.
  svg += "<g stroke=\"#e6e6e6\" stroke-width=\"1\">\n";
  for (double t : xt)
    svg += "<line x1=\"" + num(px(t)) + "\" y1=\"" + num(top) + "\" x2=\"" + num(px(t)) + "\" y2=\"" + num(top + ph) +
           "\"/>\n";
  for (double t : yt)
    svg += "<line x1=\"" + num(left) + "\" y1=\"" + num(py(t)) + "\" x2=\"" + num(left + pw) + "\" y2=\"" + num(py(t)) +
           "\"/>\n";
  svg += "</g>\n<g font-size=\"12\" fill=\"#333\">\n";
  const double xstep = xt.size() > 1 ? xt[1] - xt[0] : 1, ystep = yt.size() > 1 ? yt[1] - yt[0] : 1;
  for (double t : xt)
    svg += "<text x=\"" + num(px(t)) + "\" y=\"" + num(top + ph + 18) + "\" text-anchor=\"middle\">" +
           tick_label(t, xstep) + "</text>\n";
  for (double t : yt)
    svg += "<text x=\"" + num(left - 8) + "\" y=\"" + num(py(t) + 4) + "\" text-anchor=\"end\">" +
           tick_label(t, ystep) + "</text>\n";
  svg += "</g>\n";
  svg += "<rect x=\"" + num(left) + "\" y=\"" + num(top) + "\" width=\"" + num(pw) + "\" height=\"" + num(ph) +
         "\" fill=\"none\" stroke=\"#444\" stroke-width=\"1\"/>\n";
  svg += "<text x=\"" + num(left + pw / 2) + "\" y=\"" + num(H - 14) +
         "\" text-anchor=\"middle\" font-size=\"13\" fill=\"#222\">" + escape(chart.x_label) + "</text>\n";
  svg += "<text transform=\"translate(20 " + num(top + ph / 2) +
         ") rotate(-90)\" text-anchor=\"middle\" font-size=\"13\" fill=\"#222\">" + escape(chart.y_label) + "</text>\n";

  auto colour = [&](std::size_t k) {
    const int c = chart.series[k].colour;
    return kColours[(c >= 0 ? static_cast<std::size_t>(c) : k) % 10];
  };
  // Bands first, then lines on top.
  svg += "<g clip-path=\"url(#plot-area)\">\n";
  for (std::size_t k = 0; k < chart.series.size(); ++k) {
    const PlotSeries& s = chart.series[k];
    if (s.lo.empty() || s.x.size() < 2) continue;
    std::string d;
    for (std::size_t i = 0; i < s.x.size(); ++i) d += (i == 0 ? "M" : " L") + num(px(s.x[i])) + " " + num(py(s.hi[i]));
    for (std::size_t i = s.x.size(); i-- > 0;) d += " L" + num(px(s.x[i])) + " " + num(py(s.lo[i]));
    svg += "<path class=\"band\" d=\"" + d + " Z\" fill=\"" + colour(k) + "\" fill-opacity=\"0.2\" stroke=\"none\"/>\n";
  }
  for (std::size_t k = 0; k < chart.series.size(); ++k) {
    const PlotSeries& s = chart.series[k];
    std::string d;
    for (std::size_t i = 0; i < s.x.size(); ++i) d += (i == 0 ? "M" : " L") + num(px(s.x[i])) + " " + num(py(s.y[i]));
    svg += "<path class=\"series\" d=\"" + d + "\" fill=\"none\" stroke=\"" + colour(k) +
           "\" stroke-width=\"2\" stroke-linejoin=\"round\" stroke-linecap=\"round\"><title>" + escape(s.name) +
           "</title></path>\n";
  }
  svg += "</g>\n";
  // Dots and error bars outside the clip: a point on the plot's edge stays
  // whole (values and bands never lie beyond the axes).
  for (std::size_t k = 0; k < chart.series.size(); ++k) {
    const PlotSeries& s = chart.series[k];
    if (s.x.size() == 1 && !s.lo.empty())
      svg += "<line class=\"errorbar\" x1=\"" + num(px(s.x[0])) + "\" y1=\"" + num(py(s.lo[0])) + "\" x2=\"" +
             num(px(s.x[0])) + "\" y2=\"" + num(py(s.hi[0])) + "\" stroke=\"" + colour(k) +
             "\" stroke-width=\"1.5\"/>\n";
    if (s.x.size() <= kMarkedPoints)
      for (std::size_t i = 0; i < s.x.size(); ++i)
        svg += "<circle class=\"marker\" cx=\"" + num(px(s.x[i])) + "\" cy=\"" + num(py(s.y[i])) +
               "\" r=\"3\" fill=\"" + colour(k) + "\"/>\n";
  }

  // Legend: the corner of the plot area that covers the fewest points.
  if (!chart.series.empty()) {
    double label_w = 0;
    for (const PlotSeries& s : chart.series) label_w = std::max(label_w, text_width(s.name, 12));
    const double row = 20, lw = 42 + label_w, lh = 10 + row * static_cast<double>(chart.series.size());
    const double pad = 10;
    const double corners[4][2] = {{left + pw - lw - pad, top + ph - lh - pad},
                                  {left + pw - lw - pad, top + pad},
                                  {left + pad, top + ph - lh - pad},
                                  {left + pad, top + pad}};
    int best = 0;
    std::size_t best_hidden = std::numeric_limits<std::size_t>::max();
    for (int c = 0; c < 4; ++c) {
      std::size_t hidden = 0;
      for (const PlotSeries& s : chart.series)
        for (std::size_t i = 0; i < s.x.size(); ++i) {
          const double X = px(s.x[i]), Y = py(s.y[i]);
          hidden += X >= corners[c][0] - 4 && X <= corners[c][0] + lw + 4 && Y >= corners[c][1] - 4 &&
                    Y <= corners[c][1] + lh + 4;
        }
      if (hidden < best_hidden) {
        best_hidden = hidden;
        best = c;
      }
    }
    const double lx = corners[best][0], ly = corners[best][1];
    svg += "<g class=\"legend\" font-size=\"12\" fill=\"#222\">\n";
    svg += "<rect x=\"" + num(lx) + "\" y=\"" + num(ly) + "\" width=\"" + num(lw) + "\" height=\"" + num(lh) +
           "\" fill=\"#ffffff\" fill-opacity=\"0.9\" stroke=\"#cccccc\" rx=\"3\"/>\n";
    for (std::size_t k = 0; k < chart.series.size(); ++k) {
      const double y = ly + 5 + row * (static_cast<double>(k) + 0.5);
      svg += "<rect x=\"" + num(lx + 8) + "\" y=\"" + num(y - 6) + "\" width=\"24\" height=\"12\" fill=\"" + colour(k) +
             "\" fill-opacity=\"0.2\"/>\n";
      svg += "<line x1=\"" + num(lx + 8) + "\" y1=\"" + num(y) + "\" x2=\"" + num(lx + 32) + "\" y2=\"" + num(y) +
             "\" stroke=\"" + colour(k) + "\" stroke-width=\"2\"/>\n";
      svg += "<text x=\"" + num(lx + 38) + "\" y=\"" + num(y + 4) + "\">" + escape(chart.series[k].name) + "</text>\n";
    }
    svg += "</g>\n";
  }
  svg += "</svg>\n";
  return svg;
}

}  // namespace zimt::experiments
