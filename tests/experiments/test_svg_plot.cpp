// SVG charts: nice ticks, well-formed XML, one path per series inside the canvas.
#include "zimt/experiments/svg_plot.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <map>
#include <regex>
#include <stdexcept>
#include <vector>

using namespace zimt::experiments;

namespace {

struct XmlCounts {
  std::map<std::string, int> elements;  // element name -> count
  std::map<std::string, int> classes;   // class attribute -> count
};

// A minimal XML well-formedness check: one root, tags balanced and properly
// nested, attributes quoted and unique, only the five predefined entities.
// Throws std::runtime_error describing the first violation.
XmlCounts parse_xml(const std::string& s) {
  XmlCounts counts;
  std::vector<std::string> open;
  int roots = 0;
  std::size_t i = 0;
  auto fail = [&](const std::string& why) { throw std::runtime_error(why + " at offset " + std::to_string(i)); };
  auto check_text = [&](const std::string& text) {
    for (std::size_t k = 0; k < text.size(); ++k) {
      if (text[k] == '<') fail("'<' in text");
      if (text[k] != '&') continue;
      const std::size_t semi = text.find(';', k);
      const std::string ent = semi == std::string::npos ? "" : text.substr(k, semi - k + 1);
      if (ent != "&amp;" && ent != "&lt;" && ent != "&gt;" && ent != "&quot;" && ent != "&apos;") fail("bad entity");
    }
  };
  if (s.rfind("<?xml", 0) == 0) i = s.find("?>") + 2;
  while (i < s.size()) {
    const std::size_t lt = s.find('<', i);
    const std::string text = s.substr(i, lt == std::string::npos ? std::string::npos : lt - i);
    check_text(text);
    if (open.empty() && text.find_first_not_of(" \n\r\t") != std::string::npos) fail("text outside the root");
    if (lt == std::string::npos) break;
    const std::size_t gt = s.find('>', lt);
    if (gt == std::string::npos) fail("unterminated tag");
    std::string tag = s.substr(lt + 1, gt - lt - 1);
    i = gt + 1;
    if (tag[0] == '/') {
      if (open.empty() || open.back() != tag.substr(1)) fail("mismatched </" + tag.substr(1) + ">");
      open.pop_back();
      continue;
    }
    const bool self_closing = tag.back() == '/';
    if (self_closing) tag.pop_back();
    const std::size_t name_end = tag.find_first_of(" \n\t");
    const std::string name = tag.substr(0, name_end);
    if (name.empty()) fail("empty tag name");
    std::map<std::string, std::string> attrs;
    static const std::regex attr_re(R"(\s+([A-Za-z_:][-A-Za-z0-9_:.]*)="([^"<]*)\")");
    std::string rest = name_end == std::string::npos ? "" : tag.substr(name_end);
    std::smatch m;
    while (std::regex_search(rest, m, attr_re) && m.position(0) == 0) {
      if (!attrs.emplace(m[1], m[2]).second) fail("duplicate attribute " + m[1].str());
      check_text(m[2]);
      rest = m.suffix();
    }
    if (rest.find_first_not_of(" \n\t") != std::string::npos) fail("malformed attributes in <" + name + ">");
    if (open.empty() && ++roots > 1) fail("second root element");
    counts.elements[name] += 1;
    if (attrs.count("class")) counts.classes[attrs["class"]] += 1;
    if (!self_closing) open.push_back(name);
  }
  if (!open.empty()) throw std::runtime_error("unclosed <" + open.back() + ">");
  if (roots != 1) throw std::runtime_error("no root element");
  return counts;
}

}  // namespace

TEST_CASE("svg: nice ticks cover the range with 1/2/2.5/5 steps") {
  CHECK(nice_ticks(0.93, 98.4, 6) == std::vector<double>{0, 20, 40, 60, 80, 100});
  CHECK(nice_ticks(0, 1000, 6) == std::vector<double>{0, 200, 400, 600, 800, 1000});
  const std::vector<double> t = nice_ticks(0.27, 0.41, 6);  // raw step 0.028 -> 0.05
  REQUIRE(t.size() == 5);
  CHECK(t.front() == doctest::Approx(0.25));
  CHECK(t.back() == doctest::Approx(0.45));
  const std::vector<double> flat = nice_ticks(5, 5, 6);  // a constant still gets a range
  CHECK(flat.front() < 5);
  CHECK(flat.back() > 5);
}

TEST_CASE("svg: the checker rejects malformed XML") {
  CHECK_THROWS(parse_xml("<svg><g></svg></g>"));
  CHECK_THROWS(parse_xml("<svg a=\"1\" a=\"2\"/>"));
  CHECK_THROWS(parse_xml("<svg>a & b</svg>"));
  CHECK_THROWS(parse_xml("<svg><g></svg>"));
  CHECK_NOTHROW(parse_xml("<svg><text>a &amp; b</text></svg>"));
}

TEST_CASE("svg: a chart is well-formed with one line per series and a band each") {
  LineChart chart;
  chart.title = "MNIST CNN: test accuracy <mean ± 1 std> & more";
  chart.x_label = "step";
  chart.y_label = "test accuracy (%)";
  for (int k = 0; k < 3; ++k) {
    PlotSeries s;
    s.name = "group \"" + std::to_string(k) + "\"";
    for (int i = 0; i <= 10; ++i) {
      s.x.push_back(20.0 * i);
      s.y.push_back(10 + 8.5 * i + k);
      s.lo.push_back(s.y.back() - 1.5);
      s.hi.push_back(s.y.back() + 1.5);
    }
    chart.series.push_back(s);
  }
  chart.series[2].lo.clear();  // a series without a band
  chart.series[2].hi.clear();
  const std::string svg = render_svg(chart);
  XmlCounts counts;
  REQUIRE_NOTHROW(counts = parse_xml(svg));
  CHECK(counts.elements["svg"] == 1);
  CHECK(counts.classes["series"] == 3);
  CHECK(counts.classes["band"] == 2);
  CHECK(counts.classes["legend"] == 1);
  // Every path coordinate lies on the canvas.
  static const std::regex coord(R"([ML](-?[0-9.]+) (-?[0-9.]+))");
  for (std::sregex_iterator it(svg.begin(), svg.end(), coord), end; it != end; ++it) {
    const double x = std::atof((*it)[1].str().c_str()), y = std::atof((*it)[2].str().c_str());
    CHECK(x >= 0);
    CHECK(x <= chart.width);
    CHECK(y >= 0);
    CHECK(y <= chart.height);
  }
}
