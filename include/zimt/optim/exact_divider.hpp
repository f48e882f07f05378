#pragma once
// Exact floor(u / C) for a fixed divisor C >= 1 and any u < 2^55 (every draw
// of the ZIM sampler is below a total < 2^55, zim.hpp): one multiply and a
// shift instead of a 64-bit division.
//
// With l = floor(log2 C), m = ceil(2^(63 + l) / C) <= 2^63 and
// e = m C - 2^(63 + l) < C: u m / 2^(63 + l) = u / C + u e / (C 2^(63 + l)),
// and u e < 2^55 2^(l + 1) <= 2^(63 + l), so the error term is below 1 / C
// and cannot carry floor(u / C) past the next integer.
#include "zimt/numerics.hpp"

#include <cstdint>

namespace zimt::optim {

class ExactDivider {
 public:
  static constexpr int max_dividend_bits = 55;

  // C = 0 gives a divider that must not be called.
  explicit ExactDivider(uint64_t c) {
    if (c == 0) return;
    shift_ = bit_width_u64(c) - 1;
    const u128 scaled = static_cast<u128>(1) << (63 + shift_);
    multiplier_ = static_cast<uint64_t>(scaled / c + (scaled % c != 0));
  }

  // floor(u / C) for u < 2^55.
  uint64_t operator()(uint64_t u) const {
    return static_cast<uint64_t>((static_cast<u128>(u << 1) * multiplier_) >> 64) >> shift_;
  }

 private:
  uint64_t multiplier_ = 0;  // m
  int shift_ = 0;            // l
};

}  // namespace zimt::optim
