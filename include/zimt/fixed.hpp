#pragma once
// Fixed-point helpers shared by every part of the engine. All integer, all
// total functions: no shift by a negative or >= width amount, no signed
// overflow. Each rounding mode is named where it is used.
#include <cstdint>
#include <limits>

namespace zimt {

// x / 2^s rounded to nearest, ties to even (s >= 0; s >= 63 returns 0 or
// the sign-correct rounding of a value below one half, i.e. 0).
inline int64_t shift_round_even(int64_t x, int s) {
  if (s <= 0) return x;
  if (s >= 63) return 0;
  const int64_t q = x >> s;  // floor division by 2^s
  const uint64_t rem = static_cast<uint64_t>(x) & ((uint64_t{1} << s) - 1);
  const uint64_t half = uint64_t{1} << (s - 1);
  if (rem > half || (rem == half && (q & 1))) return q + 1;
  return q;
}

// x / 2^s rounded stochastically: up with probability rem / 2^s, using the
// low s bits of `random` (s <= 62; larger s rounds with 62 bits). Unbiased:
// E[result] = x / 2^s.
inline int64_t shift_round_stochastic(int64_t x, int s, uint64_t random) {
  if (s <= 0) return x;
  if (s > 62) {
    x = shift_round_even(x, s - 62);
    s = 62;
  }
  const int64_t q = x >> s;
  const uint64_t mask = (uint64_t{1} << s) - 1;
  const uint64_t rem = static_cast<uint64_t>(x) & mask;
  return q + ((random & mask) < rem ? 1 : 0);
}

inline int8_t saturate_i8(int64_t x) { return static_cast<int8_t>(x > 127 ? 127 : (x < -127 ? -127 : x)); }
inline int16_t saturate_i16(int64_t x) { return static_cast<int16_t>(x > 32767 ? 32767 : (x < -32767 ? -32767 : x)); }
inline int32_t saturate_i32(int64_t x) {
  constexpr int64_t hi = std::numeric_limits<int32_t>::max();
  return static_cast<int32_t>(x > hi ? hi : (x < -hi ? -hi : x));
}

// |x| without overflow for INT64_MIN (returned as 2^63 in an unsigned).
inline uint64_t abs_u64(int64_t x) { return x < 0 ? 0 - static_cast<uint64_t>(x) : static_cast<uint64_t>(x); }

// Number of bits needed for |x| (0 for x == 0): the smallest b with |x| < 2^b.
inline int bit_width_abs(int64_t x) {
  const uint64_t a = abs_u64(x);
  return a == 0 ? 0 : 64 - __builtin_clzll(a);
}

// floor(sqrt(x)) exactly, for any 64-bit unsigned x.
uint64_t isqrt_u64(uint64_t x);

}  // namespace zimt
