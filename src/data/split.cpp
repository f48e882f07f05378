#include "zimt/data/split.hpp"

#include "zimt/rng.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <numeric>
#include <stdexcept>

namespace zimt::data {

std::vector<uint64_t> held_out_indices(uint64_t count, uint64_t held_out, uint64_t seed) {
  std::vector<uint64_t> perm(count);
  std::iota(perm.begin(), perm.end(), uint64_t{0});
  for (uint64_t j = 0; j < held_out && j < count; ++j) {
    WordStream words(seed, Stream::split, 0, j);
    std::swap(perm[j], perm[j + uniform_below(count - j, words)]);
  }
  perm.resize(std::min(held_out, count));
  std::sort(perm.begin(), perm.end());
  return perm;
}

std::pair<Samples, Samples> split_samples(const Samples& s, uint64_t held_out, uint64_t seed) {
  const auto held = held_out_indices(s.count(), held_out, seed);
  Samples kept, val;
  kept.shape = val.shape = s.shape;
  size_t h = 0;
  for (uint64_t i = 0; i < s.count(); ++i) {
    Samples& to = (h < held.size() && held[h] == i) ? (++h, val) : kept;
    to.labels.push_back(s.labels[i]);
    to.images.insert(to.images.end(), s.image(i), s.image(i) + s.shape.size());
  }
  return {std::move(kept), std::move(val)};
}

uint64_t parse_split(const std::string& text, uint64_t count) {
  uint64_t held = 0;
  if (text.find('.') != std::string::npos) {
    double f = 0;
    const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), f);
    if (ec != std::errc() || p != text.data() + text.size() || !(f > 0 && f < 1)) {
      throw std::runtime_error("--split: expected a fraction in (0,1) or a sample count, got '" + text + "'");
    }
    held = static_cast<uint64_t>(std::llround(f * static_cast<double>(count)));
  } else {
    const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), held);
    if (ec != std::errc() || p != text.data() + text.size()) {
      throw std::runtime_error("--split: expected a fraction in (0,1) or a sample count, got '" + text + "'");
    }
  }
  if (held < 1 || held >= count) {
    throw std::runtime_error("--split " + text + " holds out " + std::to_string(held) + " of " + std::to_string(count) +
                             " samples; both parts must be non-empty");
  }
  return held;
}

}  // namespace zimt::data
