#include "zimt/data/synth.hpp"

#include "zimt/rng.hpp"

#include <algorithm>
#include <stdexcept>

namespace zimt::data {
namespace {

// Class prototypes, (K,C,H,W): cells of a gh x gw grid per channel, each
// lit (128..255) with probability 1/2, else dark (0..31).
std::vector<uint8_t> prototypes(const SynthSpec& spec, uint32_t gh, uint32_t gw) {
  const Shape& sh = spec.shape;
  std::vector<uint8_t> p(uint64_t{spec.classes} * sh.size());
  for (uint32_t k = 0; k < spec.classes; ++k) {
    WordStream words(spec.seed, Stream::test_data, 0, k);
    std::vector<uint8_t> cells(uint64_t{sh.channels} * gh * gw);
    uint64_t word = 0;
    for (size_t j = 0; j < cells.size(); ++j) {
      if (j % 4 == 0) word = words();
      const uint32_t bits = static_cast<uint32_t>(word >> (16 * (j % 4))) & 0xffff;
      cells[j] = (bits & 1) ? static_cast<uint8_t>(128 + ((bits >> 1) & 127)) : static_cast<uint8_t>((bits >> 1) & 31);
    }
    uint8_t* out = p.data() + k * sh.size();
    for (uint32_t c = 0; c < sh.channels; ++c) {
      for (uint32_t y = 0; y < sh.height; ++y) {
        for (uint32_t x = 0; x < sh.width; ++x) {
          const uint64_t cy = uint64_t{y} * gh / sh.height, cx = uint64_t{x} * gw / sh.width;
          out[(uint64_t{c} * sh.height + y) * sh.width + x] = cells[(uint64_t{c} * gh + cy) * gw + cx];
        }
      }
    }
  }
  return p;
}

}  // namespace

Samples synthesize(const SynthSpec& spec) {
  const Shape& sh = spec.shape;
  if (spec.samples < 1) throw std::invalid_argument("synth: samples must be >= 1");
  if (spec.first + spec.samples > (uint64_t{1} << 56))
    throw std::invalid_argument("synth: sample indices must stay below 2^56");
  if (spec.classes < 2 || spec.classes > 256) throw std::invalid_argument("synth: classes must be in 2..256");
  if (sh.channels < 1 || sh.height < 1 || sh.width < 1)
    throw std::invalid_argument("synth: shape dimensions must be >= 1");
  if (spec.noise_q16 > 65536) throw std::invalid_argument("synth: noise must be in 0..1");
  const uint32_t gh = std::min(4u, sh.height), gw = std::min(4u, sh.width);
  const int64_t max_dy = sh.height / gh / 3, max_dx = sh.width / gw / 3;  // a third of a cell
  const auto proto = prototypes(spec, gh, gw);

  Samples s;
  s.shape = sh;
  s.labels.resize(spec.samples);
  s.images.resize(spec.samples * sh.size());
  std::vector<uint8_t> blend(sh.size());
  for (uint64_t n = 0; n < spec.samples; ++n) {
    const uint64_t i = spec.first + n;
    WordStream words(spec.seed, Stream::test_data, 1, i);
    const auto label = static_cast<uint32_t>(uniform_below(spec.classes, words));
    const auto other = (label + 1 + static_cast<uint32_t>(uniform_below(spec.classes - 1, words))) % spec.classes;
    const auto weight = static_cast<uint32_t>(uniform_below(97, words));  // distractor weight /256, 0..96
    const int64_t dy = static_cast<int64_t>(uniform_below(2 * max_dy + 1, words)) - max_dy;
    const int64_t dx = static_cast<int64_t>(uniform_below(2 * max_dx + 1, words)) - max_dx;
    s.labels[n] = static_cast<uint8_t>(label);

    const uint8_t* a = proto.data() + label * sh.size();
    const uint8_t* b = proto.data() + other * sh.size();
    for (uint64_t j = 0; j < sh.size(); ++j)
      blend[j] = static_cast<uint8_t>(((256 - weight) * a[j] + weight * b[j]) >> 8);

    uint8_t* out = s.images.data() + n * sh.size();
    for (uint32_t c = 0; c < sh.channels; ++c) {
      for (int64_t y = 0; y < sh.height; ++y) {
        for (int64_t x = 0; x < sh.width; ++x) {
          const int64_t sy = y - dy, sx = x - dx;
          const bool inside = sy >= 0 && sy < sh.height && sx >= 0 && sx < sh.width;
          out[(int64_t{c} * sh.height + y) * sh.width + x] =
              inside ? blend[(int64_t{c} * sh.height + sy) * sh.width + sx] : 0;
        }
      }
    }
    if (spec.noise_q16 == 0) continue;
    Block block{};
    for (uint64_t j = 0; j < sh.size(); ++j) {
      if (j % 4 == 0) block = philox(spec.seed, Stream::test_data, 2 + j / 4, i);
      const uint32_t r = block[j % 4];
      if ((r & 0xffff) < spec.noise_q16) out[j] = static_cast<uint8_t>(r >> 16);
    }
  }
  return s;
}

}  // namespace zimt::data
