#include "zimt/optim/common_scale.hpp"

#include "wide.hpp"
#include "zimt/fixed.hpp"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/parallel_reduce.h>

#include <algorithm>
#include <functional>

namespace zimt::optim {

namespace {

constexpr size_t grain = 16384;

// The OR of all |g_i|: it has the bit length of max |g_i|, which is all the
// scale choice needs, and it reduces without branches.
uint64_t abs_or(const GradientSlice& s) {
  return tbb::parallel_reduce(
      tbb::blocked_range<size_t>(0, s.size, grain), uint64_t{0},
      [&](const tbb::blocked_range<size_t>& r, uint64_t m) {
        for (size_t i = r.begin(); i != r.end(); ++i) m |= abs_u64(s.g[i]);
        return m;
      },
      [](uint64_t a, uint64_t b) { return a | b; });
}

// round-half-even(value * 2^shift) for value < 2^127, the result known to fit.
uint64_t rescale(u128 value, int64_t shift) {
  if (value == 0) return 0;  // its shift may be any size
  if (shift >= 0) return static_cast<uint64_t>(value << shift);
  return static_cast<uint64_t>(shift_round_even_u128(value, -shift));
}

}  // namespace

void scale_gradients(std::span<const GradientSlice> slices, q32 factor, q32 constant, ScaledGradient& out) {
  size_t d = 0;
  for (const auto& s : slices) d += s.size;
  out.magnitude.resize(d);
  out.sign.resize(d);
  out.budget_bits = 54 - bit_width_u64(d);

  // The largest term's bit length, as an exponent: term < 2^top.
  const auto k = static_cast<uint64_t>(std::max<q32>(factor, 0));
  const auto c = static_cast<uint64_t>(std::max<q32>(constant, 0));
  std::vector<uint64_t> maxes(slices.size());  // OR of |g_i|: bit length of max |g_i|
  bool any = c != 0;
  int64_t top = c != 0 ? bit_width_u64(c) - 32 : 0;
  for (size_t t = 0; t < slices.size(); ++t) {
    maxes[t] = abs_or(slices[t]);
    if (maxes[t] == 0 || k == 0) continue;
    const int64_t slice_top = int64_t{bit_width_u64(maxes[t])} + bit_width_u64(k) + slices[t].exp - 32;
    top = any ? std::max(top, slice_top) : slice_top;
    any = true;
  }
  out.scale_exp = any ? top - out.budget_bits : 0;
  out.constant = rescale(c, -32 - out.scale_exp);

  size_t offset = 0;
  uint64_t sum = 0;
  for (const auto& s : slices) {
    const int64_t shift = s.exp - 32 - out.scale_exp;
    uint64_t* mag = out.magnitude.data() + offset;
    int8_t* sign = out.sign.data() + offset;
    sum += tbb::parallel_reduce(
        tbb::blocked_range<size_t>(0, s.size, grain), uint64_t{0},
        [mag, sign, shift, k, g_in = s.g](const tbb::blocked_range<size_t>& r, uint64_t partial) {
          for (size_t i = r.begin(); i != r.end(); ++i) {
            const int64_t g = g_in[i];
            sign[i] = static_cast<int8_t>((g > 0) - (g < 0));
            mag[i] = rescale(static_cast<u128>(abs_u64(g)) * k, shift);
            partial += mag[i];
          }
          return partial;
        },
        std::plus<uint64_t>());
    offset += s.size;
  }
  out.magnitude_sum = sum;
}

}  // namespace zimt::optim
