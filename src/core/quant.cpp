#include "zimt/quant.hpp"

#include <algorithm>

#include "zimt/fixed.hpp"

namespace zimt {

namespace {

// Smallest s >= 0 with round_half_even(max_abs / 2^s) <= limit. Rounding is
// monotone in |x|, so checking the largest magnitude suffices.
int shift_to_fit(uint64_t max_abs, int64_t limit) {
  int s = 0;
  const int bits = max_abs == 0 ? 0 : 64 - __builtin_clzll(max_abs);
  const int limit_bits = 64 - __builtin_clzll(static_cast<uint64_t>(limit));
  if (bits > limit_bits) s = bits - limit_bits;
  // max_abs < 2^63 here (accumulators are bounded), so the signed cast is exact.
  while (shift_round_even(static_cast<int64_t>(max_abs), s) > limit) ++s;
  return s;
}

// out[i] = round_keep_sign(acc[i], s) for |acc[i]| < 2^62, 0 < s < 62, as
// straight-line code the compiler vectorises. With x = q0·2^s + rem,
// (x + 2^(s-1) - 1 + (q0 & 1)) >> s is q0 + 1 exactly when rem > 2^(s-1), or
// rem == 2^(s-1) and q0 is odd: round-half-even. No overflow below 2^62.
template <class T>
void round_keep_sign_all(const int64_t* acc, int64_t count, int s, T* out) {
  const int64_t half_minus_one = (int64_t{1} << (s - 1)) - 1;
  for (int64_t i = 0; i < count; ++i) {
    const int64_t x = acc[i];
    const int64_t q = (x + half_minus_one + ((x >> s) & 1)) >> s;
    out[i] = static_cast<T>(q != 0 ? q : (x > 0) - (x < 0));
  }
}

template <class T>
int32_t requantize(const int64_t* acc, int64_t count, int32_t acc_exp, T* out, int64_t limit) {
  uint64_t max_abs = 0;
  for (int64_t i = 0; i < count; ++i) max_abs = std::max(max_abs, abs_u64(acc[i]));
  const int s = shift_to_fit(max_abs, limit);
  if (s == 0) {
    for (int64_t i = 0; i < count; ++i) out[i] = static_cast<T>(acc[i]);  // fits: copied exactly
  } else if (max_abs < (uint64_t{1} << 62)) {
    round_keep_sign_all(acc, count, s, out);
  } else {
    for (int64_t i = 0; i < count; ++i) out[i] = static_cast<T>(round_keep_sign(acc[i], s));
  }
  return acc_exp + s;
}

}  // namespace

int32_t requantize_i8(const int64_t* acc, int64_t count, int32_t acc_exp, int8_t* out) {
  return requantize<int8_t>(acc, count, acc_exp, out, 127);
}

int32_t requantize_i16(const int64_t* acc, int64_t count, int32_t acc_exp, int16_t* out) {
  return requantize<int16_t>(acc, count, acc_exp, out, 32767);
}

int ceil_log2(uint64_t x) { return x <= 1 ? 0 : 64 - __builtin_clzll(x - 1); }

BatchAlignment align_batch(const int32_t* sample_exp, int64_t batch, int term_bits) {
  BatchAlignment a;
  a.shift.resize(static_cast<size_t>(batch));
  if (batch == 0) return a;
  const int32_t lo = *std::min_element(sample_exp, sample_exp + batch);
  const int32_t hi = *std::max_element(sample_exp, sample_exp + batch);
  const int32_t max_shift = std::max(0, 62 - term_bits - ceil_log2(static_cast<uint64_t>(batch)));
  a.exp = hi - lo <= max_shift ? lo : hi - max_shift;
  for (int64_t n = 0; n < batch; ++n) a.shift[static_cast<size_t>(n)] = sample_exp[n] - a.exp;
  return a;
}

int32_t common_exponent(int32_t e_a, int bits_a, int32_t e_b, int bits_b) {
  int32_t e = std::min(e_a, e_b);
  e = std::max(e, e_a + bits_a - 61);
  e = std::max(e, e_b + bits_b - 61);
  return e;
}

int64_t div_round_even(int64_t num, int64_t den) {
  // Floor division first (C++ truncates toward zero), then the remainder
  // decides: rem in [0, den).
  int64_t q = num / den;
  int64_t r = num % den;
  if (r < 0) {
    q -= 1;
    r += den;
  }
  const uint64_t twice = 2 * static_cast<uint64_t>(r);
  const uint64_t d = static_cast<uint64_t>(den);
  if (twice > d || (twice == d && (q & 1))) q += 1;
  return q;
}

}  // namespace zimt
