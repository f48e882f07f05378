// Oracle tests of zimt/numerics.hpp: every rounding rule against the
// definition (the nearest candidate, ties to the even one), at the extremes
// of its domain and on random values.
#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "zimt/numerics.hpp"

using namespace zimt;

namespace {

constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

u128 abs_diff(i128 a, i128 b) {
  return a > b ? static_cast<u128>(a) - static_cast<u128>(b) : static_cast<u128>(b) - static_cast<u128>(a);
}

// num / den by the definition: of the two integers around the quotient, the
// nearer one; on a tie the even one. floor is floor(num / den), found from
// the truncating quotient; |num|, |den| small enough that c·den fits i128.
i128 nearest_even(i128 num, i128 den) {
  i128 floor = num / den;
  if (floor * den > num) floor -= 1;
  const i128 up = floor + 1;
  const u128 d_floor = abs_diff(num, floor * den), d_up = abs_diff(num, up * den);
  if (d_floor != d_up) return d_floor < d_up ? floor : up;
  return (floor & 1) == 0 ? floor : up;
}

i128 pow2(int s) { return static_cast<i128>(1) << s; }

// Values around every power of two and the int64 extremes.
std::vector<int64_t> probe_values(std::mt19937_64& rng) {
  std::vector<int64_t> v{0, 1, -1, 2, -2, 3, -3, kMin, kMin + 1, kMin + 2, kMax, kMax - 1, kMax - 2};
  for (int b = 1; b < 63; ++b) {
    const int64_t p = int64_t{1} << b;
    for (int64_t d : {-1, 0, 1}) {
      v.push_back(p + d);
      v.push_back(-p + d);
      v.push_back(p + (p >> 1) + d);  // 1.5·2^b: a tie at s = b
      v.push_back(-(p + (p >> 1)) + d);
    }
  }
  for (int i = 0; i < 2000; ++i) v.push_back(static_cast<int64_t>(rng()) >> (rng() % 64));
  return v;
}

}  // namespace

TEST_CASE("shift_round_even: nearest, ties to even, at every shift and the int64 extremes") {
  CHECK(shift_round_even(5, 1) == 2);    // 2.5
  CHECK(shift_round_even(7, 1) == 4);    // 3.5
  CHECK(shift_round_even(-5, 1) == -2);  // -2.5
  CHECK(shift_round_even(-7, 1) == -4);  // -3.5
  CHECK(shift_round_even(1, 1) == 0);    // 0.5
  CHECK(shift_round_even(-1, 1) == 0);   // -0.5
  CHECK(shift_round_even(-3, 1) == -2);  // -1.5
  CHECK(shift_round_even(3, 2) == 1);    // 0.75
  CHECK(shift_round_even(-6, 2) == -2);  // -1.5
  CHECK(shift_round_even(10, 2) == 2);   // 2.5
  // Shift 0 (and below) is the identity, extremes included.
  for (int64_t x : {kMin, kMin + 1, int64_t{-1}, int64_t{0}, kMax}) {
    CHECK(shift_round_even(x, 0) == x);
    CHECK(shift_round_even(x, -4) == x);
  }
  // Shift 62: the int64 extremes are about ±2.
  CHECK(shift_round_even(kMax, 62) == 2);   // 2 - 2^-62
  CHECK(shift_round_even(kMin, 62) == -2);  // exact
  CHECK(shift_round_even(kMin + 1, 62) == -2);
  CHECK(shift_round_even(int64_t{1} << 61, 62) == 0);          // 0.5
  CHECK(shift_round_even(-(int64_t{1} << 61), 62) == 0);       // -0.5
  CHECK(shift_round_even(3 * (int64_t{1} << 61), 62) == 2);    // 1.5
  CHECK(shift_round_even(-3 * (int64_t{1} << 61), 62) == -2);  // -1.5
  // Shift 63 and beyond give 0, the rounding of every |x| <= 2^62 (the
  // stated domain; 2^62 / 2^63 is a tie that goes to 0).
  CHECK(shift_round_even(int64_t{1} << 62, 63) == 0);
  CHECK(shift_round_even(-(int64_t{1} << 62), 63) == 0);
  CHECK(shift_round_even(int64_t{1} << 62, 200) == 0);

  std::mt19937_64 rng(1);
  for (int64_t x : probe_values(rng))
    for (int s = 0; s <= 62; ++s) REQUIRE(shift_round_even(x, s) == nearest_even(x, pow2(s)));
}

TEST_CASE("shift_round_even_i128 and _u128: the same rule in 128 bits") {
  std::mt19937_64 rng(2);
  for (int64_t x : probe_values(rng))
    for (int s = 0; s <= 62; ++s) REQUIRE(shift_round_even_i128(x, s) == nearest_even(x, pow2(s)));
  // Values up to 2^126, shifts up to 126.
  for (int i = 0; i < 3000; ++i) {
    const i128 x =
        ((static_cast<i128>(static_cast<int64_t>(rng())) << 62) + static_cast<i128>(rng() >> 2)) >> (rng() % 120);
    const int s = static_cast<int>(rng() % 64) + static_cast<int>(rng() % 63);
    REQUIRE(shift_round_even_i128(x, s) == nearest_even(x, pow2(s)));
    if (x >= 0) REQUIRE(shift_round_even_u128(static_cast<u128>(x), s) == static_cast<u128>(nearest_even(x, pow2(s))));
  }
  CHECK(shift_round_even_i128(3 * pow2(100), 101) == 2);    // 1.5
  CHECK(shift_round_even_i128(-3 * pow2(100), 101) == -2);  // -1.5
  CHECK(shift_round_even_i128(pow2(100), 101) == 0);        // 0.5
  CHECK(shift_round_even_i128(-pow2(100), 101) == 0);       // -0.5
  CHECK(shift_round_even_i128(pow2(126) - 1, 126) == 1);    // 1 - 2^-126
  CHECK(shift_round_even_i128(-pow2(126), 126) == -1);      // exact
  CHECK(shift_round_even_i128(pow2(125), 127) == 0);        // beyond 126: 0
  CHECK(shift_round_even_i128(-7, 0) == -7);
  // Unsigned: up to the full 128 bits.
  const u128 top = ~u128{0};
  CHECK(shift_round_even_u128(top, 0) == top);
  CHECK(shift_round_even_u128(top, 127) == 2);  // 2 - 2^-127
  CHECK(shift_round_even_u128(top, 128) == 0);
  CHECK(shift_round_even_u128(u128{1} << 126, 127) == 0);      // 0.5
  CHECK(shift_round_even_u128(u128{3} << 126, 127) == 2);      // 1.5
  CHECK(shift_round_even_u128((u128{5} << 63), 64) == 2);      // 2.5
  CHECK(shift_round_even_u128((u128{7} << 63), 64) == 4);      // 3.5
  CHECK(shift_round_even_u128((u128{7} << 63) + 1, 64) == 4);  // just above 3.5
}

TEST_CASE("shift_round_even_branchless: the values of shift_round_even on its domain") {
  std::mt19937_64 rng(3);
  for (int i = 0; i < 20000; ++i) {
    const int64_t x = static_cast<int64_t>(rng()) >> (2 + rng() % 62);  // |x| <= 2^61
    const int s = 1 + static_cast<int>(rng() % 61);
    REQUIRE(shift_round_even_branchless(x, s) == shift_round_even(x, s));
    const i128 w = static_cast<i128>(x) << 56;  // |w| <= 2^117
    const int t = 1 + static_cast<int>(rng() % 57);
    REQUIRE(shift_round_even_branchless(w, t) == shift_round_even_i128(w, t));
  }
  for (int s = 1; s <= 61; ++s) {
    const int64_t half = int64_t{1} << (s - 1);
    for (int64_t q : {int64_t{-3}, int64_t{-2}, int64_t{-1}, int64_t{0}, int64_t{1}, int64_t{2}, int64_t{3}}) {
      const int64_t tie = q * (int64_t{1} << s) + half;  // q + 0.5
      if (tie >= (int64_t{1} << 61) || tie <= -(int64_t{1} << 61)) continue;
      REQUIRE(shift_round_even_branchless(tie, s) == (q % 2 == 0 ? q : q + 1));
    }
  }
}

TEST_CASE("div_round_even: nearest quotient, ties to even, any int64 numerator") {
  CHECK(div_round_even(7, 2) == 4);
  CHECK(div_round_even(5, 2) == 2);
  CHECK(div_round_even(-5, 2) == -2);
  CHECK(div_round_even(-7, 2) == -4);
  CHECK(div_round_even(-10, 3) == -3);
  CHECK(div_round_even(11, 3) == 4);
  CHECK(div_round_even(0, 49) == 0);
  CHECK(div_round_even(kMin, 1) == kMin);
  CHECK(div_round_even(kMax, 1) == kMax);
  CHECK(div_round_even(kMin, 2) == -(int64_t{1} << 62));
  CHECK(div_round_even(kMax, 2) == int64_t{1} << 62);         // 2^62 - 0.5
  CHECK(div_round_even(kMin + 1, 2) == -(int64_t{1} << 62));  // -2^62 + 0.5
  CHECK(div_round_even(kMax, kMax) == 1);
  CHECK(div_round_even(kMin, kMax) == -1);
  CHECK(div_round_even(kMax / 2, kMax) == 0);  // just below 0.5
  CHECK(div_round_even(kMax / 2 + 1, kMax) == 1);
  std::mt19937_64 rng(4);
  for (int64_t num : probe_values(rng)) {
    for (int64_t den : {int64_t{1}, int64_t{2}, int64_t{3}, int64_t{7}, int64_t{49}, int64_t{1} << 20,
                        (int64_t{1} << 40) + 1, kMax - 1, kMax}) {
      REQUIRE(div_round_even(num, den) == nearest_even(num, den));
      REQUIRE(div_round_even_i128(num, den) == nearest_even(num, den));
    }
    const auto den = static_cast<int64_t>(rng() >> (1 + rng() % 63));
    if (den > 0) REQUIRE(div_round_even(num, den) == nearest_even(num, den));
  }
}

TEST_CASE("div_round_even_i128 and _u128: the same rule in 128 bits") {
  std::mt19937_64 rng(5);
  // The input normalisation's domain: |num| < 2^100, den < 2^72.
  for (int i = 0; i < 3000; ++i) {
    const i128 num = (static_cast<i128>(static_cast<int64_t>(rng())) << 36) >> (rng() % 100);
    const i128 den = ((static_cast<i128>(rng() >> 1) << 8) >> (rng() % 70)) | 1;
    REQUIRE(div_round_even_i128(num, den) == nearest_even(num, den));
    if (num >= 0)
      REQUIRE(div_round_even_u128(static_cast<u128>(num), static_cast<u128>(den)) ==
              static_cast<u128>(nearest_even(num, den)));
  }
  CHECK(div_round_even_i128(-3 * pow2(100), pow2(101)) == -2);  // -1.5
  CHECK(div_round_even_i128(5 * pow2(100), pow2(101)) == 2);    // 2.5
  CHECK(div_round_even_i128(-pow2(100), pow2(101)) == 0);       // -0.5
  const i128 big = pow2(126) + (pow2(126) - 1);                 // the largest i128
  CHECK(div_round_even_i128(big, 2) == pow2(126));              // 2^126 - 0.5
  CHECK(div_round_even_i128(-big, 2) == -pow2(126));            // -2^126 + 0.5
  CHECK(div_round_even_i128(big, big) == 1);
  CHECK(div_round_even_u128(5, 2) == 2);
  CHECK(div_round_even_u128(7, 2) == 4);
  CHECK(div_round_even_u128(u128{1} << 127, 3) == ((u128{1} << 127) + 1) / 3);  // 2^127 / 3 rounds up
  CHECK(div_round_even_u128(~u128{0}, u128{1} << 127) == 2);                    // 2 - 2^-127
}

TEST_CASE("round_keep_sign: round-half-even, but nonzero never becomes 0") {
  CHECK(round_keep_sign(1, 1) == 1);    // 0.5 -> 0, kept at 1
  CHECK(round_keep_sign(-1, 1) == -1);  // -0.5 -> 0, kept at -1
  CHECK(round_keep_sign(3, 1) == 2);    // 1.5 -> 2 (even)
  CHECK(round_keep_sign(-5, 1) == -2);  // -2.5 -> -2 (even)
  CHECK(round_keep_sign(0, 7) == 0);    // exact zeros stay exact
  CHECK(round_keep_sign(kMax, 63) == 1);
  CHECK(round_keep_sign(kMin, 63) == -1);
  CHECK(round_keep_sign(kMin, 62) == -2);
  CHECK(round_keep_sign(kMax, 0) == kMax);
  CHECK(keep_sign(i128{0}, -pow2(100)) == -1);
  CHECK(keep_sign(i128{5}, i128{-3}) == 5);
  std::mt19937_64 rng(6);
  for (int64_t x : probe_values(rng)) {
    for (int s = 0; s <= 63; ++s) {
      const int64_t q = round_keep_sign(x, s);
      if (x == 0) {
        REQUIRE(q == 0);
      } else if (shift_round_even(x, s) != 0) {
        REQUIRE(q == shift_round_even(x, s));
      } else {
        REQUIRE(q == (x > 0 ? 1 : -1));
      }
    }
  }
}

TEST_CASE("shift_round_stochastic_u128: over every draw, the rounded values sum to m exactly") {
  // For s <= 64 the draw is the low s bits of `random`; summed over all 2^s
  // draws, q·2^s + (number of draws below rem) = q·2^s + rem = m: unbiased.
  std::mt19937_64 rng(7);
  for (int s : {1, 2, 3, 5, 8, 10}) {
    for (int i = 0; i < 50; ++i) {
      const u128 m = (static_cast<u128>(rng()) << 40 | rng()) >> (rng() % 100);
      u128 sum = 0;
      const uint64_t high = rng() << s;  // bits above the draw are ignored
      for (uint64_t d = 0; d < (uint64_t{1} << s); ++d) sum += shift_round_stochastic_u128(m, s, high | d);
      REQUIRE(sum == m);
    }
  }
  CHECK(shift_round_stochastic_u128(12345, 0, rng()) == 12345);
  // s = 64: all 64 bits are the draw.
  const u128 m = (u128{9} << 64) + 5;
  CHECK(shift_round_stochastic_u128(m, 64, 0) == 10);
  CHECK(shift_round_stochastic_u128(m, 64, 4) == 10);
  CHECK(shift_round_stochastic_u128(m, 64, 5) == 9);
  CHECK(shift_round_stochastic_u128(m, 64, ~uint64_t{0}) == 9);
  // s > 64: the low s - 64 bits first round half-even, then 64 random bits.
  // 2^6 at s = 70: 2^6 / 2^6 = 1 unit of 2^-64, rounded up only by draw 0.
  CHECK(shift_round_stochastic_u128(u128{1} << 6, 70, 0) == 1);
  CHECK(shift_round_stochastic_u128(u128{1} << 6, 70, 1) == 0);
  CHECK(shift_round_stochastic_u128(u128{1} << 5, 70, 0) == 0);              // 0.5 unit -> 0 (even)
  CHECK(shift_round_stochastic_u128(u128{3} << 5, 70, 1) == 1);              // 1.5 units -> 2, draw 1 < 2
  CHECK(shift_round_stochastic_u128(u128{3} << 70, 70, ~uint64_t{0}) == 3);  // exact stays exact
}

TEST_CASE("wide integer helpers at their extremes") {
  CHECK(abs_u64(kMin) == uint64_t{1} << 63);
  CHECK(abs_u64(kMax) == static_cast<uint64_t>(kMax));
  CHECK(abs_u64(-1) == 1);
  CHECK(abs_u128(-pow2(126) - pow2(126)) == u128{1} << 127);
  CHECK(abs_u128(-5) == 5);
  CHECK(bit_width_abs(0) == 0);
  CHECK(bit_width_abs(-1) == 1);
  CHECK(bit_width_abs(127) == 7);
  CHECK(bit_width_abs(-128) == 8);
  CHECK(bit_width_abs(kMax) == 63);
  CHECK(bit_width_abs(kMin) == 64);
  CHECK(bit_width_u64(~uint64_t{0}) == 64);
  CHECK(bit_width_u128(0) == 0);
  CHECK(bit_width_u128((u128{1} << 64) - 1) == 64);
  CHECK(bit_width_u128(u128{1} << 64) == 65);
  CHECK(bit_width_u128(~u128{0}) == 128);
  CHECK(ceil_log2(0) == 0);
  CHECK(ceil_log2(1) == 0);
  CHECK(ceil_log2(2) == 1);
  CHECK(ceil_log2(3) == 2);
  CHECK(ceil_log2(64) == 6);
  CHECK(ceil_log2(65) == 7);
  CHECK(ceil_log2(~uint64_t{0}) == 64);
  CHECK(saturate_i8(kMin) == -127);
  CHECK(saturate_i8(-128) == -127);
  CHECK(saturate_i8(-127) == -127);
  CHECK(saturate_i8(128) == 127);
  CHECK(saturate_i8(kMax) == 127);
  CHECK(saturate_i8(-5) == -5);
}

TEST_CASE("isqrt_u64: floor of the square root, r² <= x < (r+1)²") {
  CHECK(isqrt_u64(0) == 0);
  CHECK(isqrt_u64(1) == 1);
  CHECK(isqrt_u64(3) == 1);
  CHECK(isqrt_u64(4) == 2);
  CHECK(isqrt_u64(~uint64_t{0}) == 0xFFFFFFFFu);
  CHECK(isqrt_u64(uint64_t{0xFFFFFFFF} * 0xFFFFFFFF) == 0xFFFFFFFFu);
  CHECK(isqrt_u64(uint64_t{0xFFFFFFFF} * 0xFFFFFFFF - 1) == 0xFFFFFFFEu);
  std::mt19937_64 rng(8);
  for (int i = 0; i < 20000; ++i) {
    const uint64_t x = rng() >> (rng() % 64);
    const u128 r = isqrt_u64(x);
    REQUIRE(r * r <= x);
    REQUIRE((r + 1) * (r + 1) > x);
  }
}

TEST_CASE("product_sum_bits: a bound on a sum of products, tight within one bit") {
  CHECK(magnitude_bits<int8_t>() == 7);
  CHECK(magnitude_bits<int16_t>() == 15);
  CHECK(product_sum_bits(15, 7, 1) == 22);  // one int16 · int8 product
  CHECK(product_sum_bits(15, 15, 1) == 30);
  CHECK(product_sum_bits(15, 8, 9) == 27);
  // k products of the largest magnitudes: below 2^bits, and for k a power of
  // two at least 2^(bits - 1).
  for (uint64_t k = 1; k <= 4096; ++k) {
    const u128 i8 = static_cast<u128>(k) * 32767 * 127, i16 = static_cast<u128>(k) * 32767 * 32767;
    const int b8 = product_sum_bits(magnitude_bits<int16_t>(), magnitude_bits<int8_t>(), k);
    const int b16 = product_sum_bits(magnitude_bits<int16_t>(), magnitude_bits<int16_t>(), k);
    REQUIRE(i8 < u128{1} << b8);
    REQUIRE(i16 < u128{1} << b16);
    if ((k & (k - 1)) == 0) {
      REQUIRE(i8 >= u128{1} << (b8 - 1));
      REQUIRE(i16 >= u128{1} << (b16 - 1));
    }
  }
}

TEST_CASE("shift_round_half_up and div_round_half_up_u128: nearest, ties up, non-negative values") {
  CHECK(shift_round_half_up(uint64_t{5}, 1) == 3);  // 2.5 -> 3 (half-even would give 2)
  CHECK(shift_round_half_up(uint64_t{3}, 1) == 2);  // 1.5
  CHECK(shift_round_half_up(uint64_t{0x7FFF}, 16) == 0);
  CHECK(shift_round_half_up(uint64_t{0x8000}, 16) == 1);  // 0.5 -> 1
  CHECK(shift_round_half_up(uint64_t{0x17FFF}, 16) == 1);
  CHECK(shift_round_half_up(uint64_t{0x18000}, 16) == 2);              // 1.5 -> 2
  CHECK(shift_round_half_up(u128{5} << 31, 32) == 3);                  // 2.5 -> 3
  CHECK(shift_round_half_up(~u128{0} >> 1, 127) == 1);                 // 1 - 2^-127
  CHECK(shift_round_half_up((uint64_t{1} << 62) - 1, 62) == 1);        // just below 1
  CHECK(div_round_half_up_u128(5, 2) == 3);                            // 2.5 -> 3
  CHECK(div_round_half_up_u128(7, 2) == 4);                            // 3.5 -> 4
  CHECK(div_round_half_up_u128(4, 3) == 1);                            // 1.33
  CHECK(div_round_half_up_u128(5, 3) == 2);                            // 1.67
  CHECK(div_round_half_up_u128(u128{1} << 126, u128{1} << 127) == 1);  // 0.5 -> 1
  std::mt19937_64 rng(9);
  for (int i = 0; i < 20000; ++i) {
    const uint64_t x = rng() >> (1 + rng() % 63);
    const int s = 1 + static_cast<int>(rng() % 62);
    // Oracle: floor, plus one when the remainder is at least half.
    const uint64_t floor = x >> s, rem = x - (floor << s);
    REQUIRE(shift_round_half_up(x, s) == floor + (rem >= (uint64_t{1} << (s - 1)) ? 1 : 0));
    const uint64_t den = (rng() >> (rng() % 64)) | 1;
    const u128 num = static_cast<u128>(rng()) * (rng() >> (rng() % 64));
    const u128 q = num / den, r = num % den;
    REQUIRE(div_round_half_up_u128(num, den) == q + (2 * r >= den ? 1 : 0));
  }
}

TEST_CASE("shift_round_up_u128: the ceiling, a positive value never becomes 0") {
  CHECK(shift_round_up_u128(0, 5) == 0);
  CHECK(shift_round_up_u128(1, 5) == 1);
  CHECK(shift_round_up_u128(32, 5) == 1);  // exact
  CHECK(shift_round_up_u128(33, 5) == 2);
  CHECK(shift_round_up_u128(7, 0) == 7);
  CHECK(shift_round_up_u128(7, -3) == 7);
  CHECK(shift_round_up_u128(~u128{0}, 127) == 2);
  CHECK(shift_round_up_u128(u128{1} << 127, 127) == 1);
  CHECK(shift_round_up_u128(~u128{0}, 128) == 1);
  CHECK(shift_round_up_u128(1, 500) == 1);
  CHECK(shift_round_up_u128(0, 500) == 0);
  std::mt19937_64 rng(10);
  for (int i = 0; i < 20000; ++i) {
    const u128 x = (static_cast<u128>(rng()) << 64 | rng()) >> (rng() % 128);
    const int s = static_cast<int>(rng() % 140);
    const u128 up = shift_round_up_u128(x, s);
    // Oracle: the smallest q with q·2^s >= x (checked as (q - 1)·2^s < x <= q·2^s).
    if (s < 128) {
      REQUIRE(up == (x >> s) + ((x >> s) << s != x ? 1 : 0));
      REQUIRE((up - (up != 0 ? 1 : 0)) <= (x >> s));
    } else {
      REQUIRE(up == (x != 0 ? 1 : 0));
    }
  }
}
