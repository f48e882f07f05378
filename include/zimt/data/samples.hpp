#pragma once
// Samples held in memory: what the format parsers produce and the .zds
// writer consumes. images is (N,C,H,W) u8, labels is (N) u8.
#include <cstdint>
#include <string>
#include <vector>

namespace zimt::data {

struct Shape {
  uint32_t channels = 0;
  uint32_t height = 0;
  uint32_t width = 0;
  uint64_t size() const { return uint64_t{channels} * height * width; }  // bytes per image
  std::string str() const;                                               // "1x28x28"
  bool operator==(const Shape&) const = default;
};

// Parses "C,H,W" (each 1..65535). Throws std::runtime_error("<what>: ...").
Shape parse_shape(const std::string& text, const std::string& what = "--shape");

struct Samples {
  Shape shape;
  std::vector<uint8_t> images;  // count() * shape.size() bytes
  std::vector<uint8_t> labels;  // count() bytes

  uint64_t count() const { return labels.size(); }
  const uint8_t* image(uint64_t i) const { return images.data() + i * shape.size(); }
  // Keeps the first n samples (n >= count() keeps all).
  void truncate(uint64_t n);
};

// The largest label + 1 (0 for no samples).
uint32_t class_count(const Samples& s);

}  // namespace zimt::data
