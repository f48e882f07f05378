#pragma once
// The engine's integer arithmetic rules, each written once (docs/design.md,
// "Rounding" and "Bounds"). All integer, all total on the stated domain: no
// shift by a negative or too-large amount, no signed overflow.
//
//   Wide integers     i128, u128; abs_u64, abs_u128; bit_width_abs,
//                     bit_width_u64, bit_width_u128; ceil_log2; isqrt_u64
//   Saturation        saturate_i8
//   Nearest, ties     shift_round_even (int64), shift_round_even_i128,
//   to even           shift_round_even_u128: x / 2^s
//                     shift_round_even_branchless: the same, branch-free, for
//                     loops the compiler vectorises
//                     div_round_even (int64), div_round_even_i128,
//                     div_round_even_u128: num / den
//   Sign-keeping      keep_sign, round_keep_sign: nearest-even, except that a
//                     nonzero value never becomes 0 (it becomes ±1)
//   Stochastic        shift_round_stochastic_u128: up with probability rem/2^s
//   Nearest, ties up  shift_round_half_up, div_round_half_up_u128: for
//                     non-negative values inside function approximations
//   Up (ceiling)      shift_round_up_u128: a positive value never becomes 0
//   Product bounds    magnitude_bits, product_sum_bits
//
// Requantisation (int64 accumulators to int8 / int16 on one exponent) and
// exponent alignment are built from these in zimt/quant.hpp.
#include <cstdint>

namespace zimt {

// ------------------------------------------------------------ wide integers
__extension__ using i128 = __int128;  // __extension__: no -Wpedantic warning
__extension__ using u128 = unsigned __int128;

// |x| without overflow for INT64_MIN (returned as 2^63 in an unsigned).
inline uint64_t abs_u64(int64_t x) { return x < 0 ? 0 - static_cast<uint64_t>(x) : static_cast<uint64_t>(x); }
// |x| without overflow for the most negative i128 (returned as 2^127).
inline u128 abs_u128(i128 x) { return x < 0 ? 0 - static_cast<u128>(x) : static_cast<u128>(x); }

// Number of bits of x (0 for x == 0): the smallest b with x < 2^b.
constexpr int bit_width_u64(uint64_t x) { return x == 0 ? 0 : 64 - __builtin_clzll(x); }
constexpr int bit_width_u128(u128 x) {
  const auto hi = static_cast<uint64_t>(x >> 64);
  return hi != 0 ? 64 + bit_width_u64(hi) : bit_width_u64(static_cast<uint64_t>(x));
}
// Number of bits needed for |x| (0 for x == 0): the smallest b with |x| < 2^b.
inline int bit_width_abs(int64_t x) { return bit_width_u64(abs_u64(x)); }

// ceil(log2(x)) for x >= 1 (0 for x <= 1).
constexpr int ceil_log2(uint64_t x) { return x <= 1 ? 0 : bit_width_u64(x - 1); }

// floor(sqrt(x)) exactly, for any 64-bit unsigned x.
uint64_t isqrt_u64(uint64_t x);

// --------------------------------------------------------------- saturation
// x clipped to [-127, 127], the symmetric int8 range every int8 tensor holds.
inline int8_t saturate_i8(int64_t x) { return static_cast<int8_t>(x > 127 ? 127 : (x < -127 ? -127 : x)); }

// ------------------------------------------------ nearest, ties to even
// Round-half-even is unbiased on ties, is odd-symmetric (round(-x) =
// -round(x)) and keeps exact zeros exact; it is the engine's default rule.

namespace detail {

// x / 2^s rounded half-even for a 64- or 128-bit integer x. s >= zero_from
// returns 0 (each public version below states its zero_from and why).
template <class T>
constexpr T shift_round_even(T x, int64_t s, int64_t zero_from) {
  if (s <= 0) return x;
  if (s >= zero_from) return 0;
  const T q = x >> s;                   // floor(x / 2^s) (arithmetic shift)
  const T rem = x & ((T{1} << s) - 1);  // x - q·2^s, in [0, 2^s)
  const T half = T{1} << (s - 1);
  return (rem > half || (rem == half && (q & 1) != 0)) ? q + 1 : q;
}

// num / den rounded half-even for den > 0 and signed S, U the unsigned type of
// the same width: floor division, then the remainder r in [0, den) decides.
// 2·r < 2·den fits U, so any S num and den > 0 are in the domain.
template <class S, class U>
constexpr S div_round_even(S num, S den) {
  S q = num / den;  // truncates toward zero
  S r = num % den;
  if (r < 0) {
    q -= 1;
    r += den;
  }
  const U twice = 2 * static_cast<U>(r);
  const U d = static_cast<U>(den);
  if (twice > d || (twice == d && (q & 1) != 0)) q += 1;
  return q;
}

}  // namespace detail

// x / 2^s (s <= 0 returns x). s >= 63 returns 0: exact for |x| <= 2^62, the
// domain of every caller (accumulators are bounded below 2^62; only x below
// -2^62 would round to -1 at s = 63).
constexpr int64_t shift_round_even(int64_t x, int s) { return detail::shift_round_even<int64_t>(x, s, 63); }
// x / 2^s in 128 bits (s <= 0 returns x). s >= 127 returns 0: exact for
// |x| <= 2^126, the callers' domain (|x| < 2^126).
constexpr i128 shift_round_even_i128(i128 x, int s) { return detail::shift_round_even<i128>(x, s, 127); }
// x / 2^s for unsigned 128-bit x (s <= 0 returns x); s >= 128 returns 0, exact.
constexpr u128 shift_round_even_u128(u128 x, int64_t s) { return detail::shift_round_even<u128>(x, s, 128); }

// x / 2^s rounded half-even as straight-line code, for 1 <= s and x + 2^s
// below the type's maximum: with x = q·2^s + rem, (x + 2^(s-1) - 1 + (q & 1))
// >> s is q + 1 exactly when rem > 2^(s-1), or rem == 2^(s-1) and q is odd.
// The same values as shift_round_even on that domain; loops over a sample use
// it because it has no branch and the compiler vectorises it.
template <class T>
constexpr T shift_round_even_branchless(T x, int s) {
  return (x + ((T{1} << (s - 1)) - 1) + ((x >> s) & 1)) >> s;
}

// num / den (den > 0), any int64 num.
constexpr int64_t div_round_even(int64_t num, int64_t den) {
  return detail::div_round_even<int64_t, uint64_t>(num, den);
}
// num / den (den > 0), any i128 num.
constexpr i128 div_round_even_i128(i128 num, i128 den) { return detail::div_round_even<i128, u128>(num, den); }
// num / den for unsigned 128-bit values, den > 0 and den <= 2^127 (so 2·r,
// r < den, fits).
constexpr u128 div_round_even_u128(u128 num, u128 den) {
  const u128 q = num / den;
  const u128 r = num % den;
  return (2 * r > den || (2 * r == den && (q & 1) != 0)) ? q + 1 : q;
}

// ------------------------------------------------------------- sign-keeping
// The rounding of requantisation (zimt/quant.hpp): round-half-even, except
// that a nonzero value that would round to 0 becomes ±1, its sign kept. An
// activation's sign decides the ReLU mask of the backward pass, and a flushed
// error signal freezes every weight it feeds (docs/design.md, "Rounding").

// q, or the sign of x when q is 0 (q is a rounding of x).
template <class T>
constexpr T keep_sign(T q, T x) {
  return q != 0 ? q : static_cast<T>((x > 0) - (x < 0));
}
// x / 2^s rounded half-even, nonzero x never 0 (s >= 0).
constexpr int64_t round_keep_sign(int64_t x, int s) { return keep_sign(shift_round_even(x, s), x); }

// ---------------------------------------------------------------- stochastic
// m / 2^s (s >= 0, m < 2^127) rounded stochastically: up with probability
// rem / 2^s, drawn with the low s bits of `random`, so E[result] = m / 2^s
// (the integer SGD's update, docs/design.md, "Update rules"). For s > 64 the
// low s - 64 bits are first rounded half-even (64 random bits per draw).
constexpr u128 shift_round_stochastic_u128(u128 m, int64_t s, uint64_t random) {
  if (s > 64) {
    m = shift_round_even_u128(m, s - 64);
    s = 64;
  }
  u128 q = m >> s;
  if (s > 0) {
    const u128 rem = m & ((u128{1} << s) - 1);
    const u128 draw = s == 64 ? random : random & ((uint64_t{1} << s) - 1);
    q += draw < rem ? 1 : 0;
  }
  return q;
}

// ----------------------------------------------------- nearest, ties up
// (x + 2^(s-1)) >> s and (num + den/2) / den: nearest, a tie rounded up. Used
// only on non-negative values inside the fixed-point function approximations
// (softmax's exp2 table interpolation and ln, the cosine schedule's angle),
// whose own approximation error is larger than the bias of an upward tie; the
// one add is the cheapest nearest rounding there. Their results are part of
// the trained weights' bits, so they stay distinct from round-half-even.

// x / 2^s, x >= 0, 1 <= s, x + 2^(s-1) below the type's maximum.
template <class U>
constexpr U shift_round_half_up(U x, int s) {
  return (x + (U{1} << (s - 1))) >> s;
}
// num / den for den > 0, num + den / 2 < 2^128 (for odd den there are no ties).
constexpr u128 div_round_half_up_u128(u128 num, u128 den) { return (num + den / 2) / den; }

// ------------------------------------------------------------ up (ceiling)
// ceil(x / 2^s) for s >= 0: a positive value stays at least one unit. For a
// term that must never vanish, e.g. LayerNorm's eps, which keeps the
// variance (and so the divisor) at least one unit (docs/design.md, "Rounding").
constexpr u128 shift_round_up_u128(u128 x, int64_t s) {
  if (s <= 0) return x;
  if (s >= 128) return x != 0 ? 1 : 0;
  return (x >> s) + ((x & ((u128{1} << s) - 1)) != 0 ? 1 : 0);
}

// ------------------------------------------------------------ product bounds
// Bits of the magnitude of the engine's symmetric storage types: an int8
// holds [-127, 127], an int16 [-32767, 32767], so |x| < 2^(8·sizeof(T) - 1).
template <class T>
constexpr int magnitude_bits() {
  return 8 * static_cast<int>(sizeof(T)) - 1;
}

// A bound on a sum of `terms` products a·b with |a| < 2^bits_a and
// |b| < 2^bits_b: |Σ a·b| < 2^(bits_a + bits_b + ceil_log2(terms)). The
// batch alignment of gradients (zimt/quant.hpp, align_batch) takes it as the
// size of one sample's partial sum (docs/design.md, "Bounds").
constexpr int product_sum_bits(int bits_a, int bits_b, uint64_t terms) { return bits_a + bits_b + ceil_log2(terms); }

}  // namespace zimt
