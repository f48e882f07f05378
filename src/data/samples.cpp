#include "zimt/data/samples.hpp"

#include <algorithm>
#include <charconv>
#include <stdexcept>

namespace zimt::data {

std::string Shape::str() const {
  return std::to_string(channels) + "x" + std::to_string(height) + "x" + std::to_string(width);
}

Shape parse_shape(const std::string& text, const std::string& what) {
  uint32_t dims[3];
  const char* p = text.data();
  const char* end = text.data() + text.size();
  for (int d = 0; d < 3; ++d) {
    const auto [next, ec] = std::from_chars(p, end, dims[d]);
    if (ec != std::errc() || dims[d] < 1 || dims[d] > 65535 || (d < 2 && (next == end || *next != ','))) {
      throw std::runtime_error(what + ": expected C,H,W with each in 1..65535, got '" + text + "'");
    }
    p = next + (d < 2 ? 1 : 0);
  }
  if (p != end) throw std::runtime_error(what + ": expected C,H,W with each in 1..65535, got '" + text + "'");
  return {dims[0], dims[1], dims[2]};
}

void Samples::truncate(uint64_t n) {
  if (n >= count()) return;
  labels.resize(n);
  images.resize(n * shape.size());
}

uint32_t class_count(const Samples& s) {
  if (s.labels.empty()) return 0;
  return uint32_t{*std::max_element(s.labels.begin(), s.labels.end())} + 1;
}

}  // namespace zimt::data
