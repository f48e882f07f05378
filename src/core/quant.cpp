#include "zimt/quant.hpp"

#include "kernels/target_clones.hpp"

#include <algorithm>
#include <limits>

namespace zimt {

namespace {

// out[i] = round_keep_sign(acc[i], s) for |acc[i]| < 2^62, 0 < s < 62, as
// straight-line code the compiler vectorises (shift_round_even_branchless
// has no overflow below 2^62).
template <class T>
void round_keep_sign_all(const int64_t* acc, int64_t count, int s, T* out) {
  for (int64_t i = 0; i < count; ++i)
    out[i] = static_cast<T>(keep_sign(shift_round_even_branchless(acc[i], s), acc[i]));
}

// round_keep_sign(a, s) for an int32 a and 0 < s < 31, in int32 lanes: with
// the floor quotient q = a >> s and remainder r = a - q·2^s in [0, 2^s),
// half-even rounds up exactly when r + (q & 1) > 2^(s-1) (mask = 2^s - 1,
// half = 2^(s-1)); no intermediate leaves int32.
[[gnu::always_inline]] inline int32_t round_keep_sign_i32(int32_t a, int s, int32_t mask, int32_t half) {
  const int32_t q = a >> s;
  return keep_sign(q + static_cast<int32_t>((a & mask) + (q & 1) > half), a);
}

// int64 accumulators (max |acc[i]| < 2^63: they are bounded); int32 ones go
// through requantize_rows, one row without addend or ReLU.
template <class T>
[[gnu::always_inline]] inline int32_t requantize(const int64_t* acc, int64_t count, int32_t acc_exp, T* out,
                                                 int64_t limit) {
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

// requantize_rows (quant.hpp), and requantize on int32 accumulators: the
// largest |acc + add| first (-2^31 included: |x| taken in uint32), then
// each sum copied (it fits) or rounded by round_keep_sign_i32.
template <class T>
[[gnu::always_inline]] inline int32_t requantize_rows(const int32_t* acc, int64_t rows, int64_t cols,
                                                      const int32_t* add, bool relu, int32_t acc_exp, T* out,
                                                      int64_t limit) {
  uint32_t max_abs = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const int32_t b = add != nullptr ? add[r] : 0;
    const int32_t* row = acc + r * cols;
    for (int64_t c = 0; c < cols; ++c) {
      const int32_t x = row[c] + b;  // no overflow: the caller's bound (-2^31 only without an addend)
      max_abs = std::max(max_abs, x < 0 ? 0u - static_cast<uint32_t>(x) : static_cast<uint32_t>(x));
    }
  }
  const int s = shift_to_fit(max_abs, limit);
  const int32_t mask = s > 0 ? (int32_t{1} << s) - 1 : 0, half = s > 0 ? int32_t{1} << (s - 1) : 0;
  const int32_t floor = relu ? 0 : std::numeric_limits<int32_t>::min();
  for (int64_t r = 0; r < rows; ++r) {
    const int32_t b = add != nullptr ? add[r] : 0;
    const int32_t* row = acc + r * cols;
    T* o = out + r * cols;
    if (s == 0) {
      for (int64_t c = 0; c < cols; ++c) o[c] = static_cast<T>(std::max(row[c] + b, floor));  // fits: exact
      continue;
    }
    for (int64_t c = 0; c < cols; ++c)
      o[c] = static_cast<T>(std::max(round_keep_sign_i32(row[c] + b, s, mask, half), floor));
  }
  return acc_exp + s;
}

}  // namespace

// Every version runs on whole tensors (the int32 ones after the layers'
// int32-C GEMMs, the int64 ones after the input normalisation and int64
// GEMMs): one version per instruction set (kernels/target_clones.hpp), the
// rounding loop above inlined into each.

ZIMT_CLONES int32_t requantize_i8(const int64_t* acc, int64_t count, int32_t acc_exp, int8_t* out) {
  return requantize(acc, count, acc_exp, out, 127);
}

ZIMT_CLONES int32_t requantize_i16(const int64_t* acc, int64_t count, int32_t acc_exp, int16_t* out) {
  return requantize(acc, count, acc_exp, out, 32767);
}

ZIMT_CLONES int32_t requantize_i8(const int32_t* acc, int64_t count, int32_t acc_exp, int8_t* out) {
  return requantize_rows(acc, 1, count, nullptr, false, acc_exp, out, 127);
}

ZIMT_CLONES int32_t requantize_i16(const int32_t* acc, int64_t count, int32_t acc_exp, int16_t* out) {
  return requantize_rows(acc, 1, count, nullptr, false, acc_exp, out, 32767);
}

ZIMT_CLONES int32_t requantize_rows(const int32_t* acc, int64_t rows, int64_t cols, const int32_t* add, bool relu,
                                    int32_t acc_exp, int8_t* out) {
  return requantize_rows(acc, rows, cols, add, relu, acc_exp, out, 127);
}

ZIMT_CLONES int32_t requantize_rows(const int32_t* acc, int64_t rows, int64_t cols, const int32_t* add, bool relu,
                                    int32_t acc_exp, int16_t* out) {
  return requantize_rows(acc, rows, cols, add, relu, acc_exp, out, 32767);
}

int32_t requantize_i8_nearest(const int64_t* acc, int64_t count, int32_t acc_exp, int8_t* out) {
  uint64_t max_abs = 0;
  for (int64_t i = 0; i < count; ++i) max_abs = std::max(max_abs, abs_u64(acc[i]));
  const int s = shift_to_fit(max_abs, 127);
  for (int64_t i = 0; i < count; ++i) out[i] = static_cast<int8_t>(shift_round_even(acc[i], s));
  return acc_exp + s;
}

int shift_to_fit(uint64_t max_abs, int64_t limit) {
  // Start below the answer: with b = bit_width(max_abs) and l = bit_width(limit),
  // every s < b - l leaves max_abs / 2^s >= 2^l > limit.
  const int bits = bit_width_u64(max_abs);
  const int limit_bits = bit_width_u64(static_cast<uint64_t>(limit));
  int s = bits > limit_bits ? bits - limit_bits : 0;
  // max_abs < 2^63 (accumulators are bounded), so the signed cast is exact.
  while (shift_round_even(static_cast<int64_t>(max_abs), s) > limit) ++s;
  return s;
}

BatchAlignment align_batch(const int32_t* sample_exp, int64_t batch, int term_bits, const BatchReducer& reducer) {
  BatchAlignment a;
  a.shift.resize(static_cast<size_t>(batch));
  a.exp = align_batch(sample_exp, batch, term_bits, a.shift.data(), reducer);
  return a;
}

int32_t align_batch(const int32_t* sample_exp, int64_t batch, int term_bits, int32_t* shift,
                    const BatchReducer& reducer) {
  const BatchExtent whole = reducer.combine(batch_extent(sample_exp, batch));
  if (whole.samples == 0) return 0;
  const int32_t lo = whole.min_exp, hi = whole.max_exp;
  const int32_t max_shift = std::max(0, 62 - term_bits - ceil_log2(static_cast<uint64_t>(whole.samples)));
  const int32_t exp = hi - lo <= max_shift ? lo : hi - max_shift;
  for (int64_t n = 0; n < batch; ++n) shift[n] = sample_exp[n] - exp;
  return exp;
}

int32_t common_exponent(int32_t e_a, int bits_a, int32_t e_b, int bits_b) {
  int32_t e = std::min(e_a, e_b);
  e = std::max(e, e_a + bits_a - 61);
  e = std::max(e, e_b + bits_b - 61);
  return e;
}

ZIMT_CLONES void add_shifted(int64_t* total, const int64_t* p, int64_t count, int32_t shift) {
  if (shift >= 0) {
    // as unsigned: the same two's-complement bits, and no signed-shift rule to trip on
    for (int64_t i = 0; i < count; ++i) total[i] += static_cast<int64_t>(static_cast<uint64_t>(p[i]) << shift);
    return;
  }
  for (int64_t i = 0; i < count; ++i) total[i] += shift_round_even(p[i], -shift);
}

ZIMT_CLONES void shift_all(int64_t* v, int64_t count, int32_t shift) {
  if (shift == 0) return;
  if (shift > 0) {
    for (int64_t i = 0; i < count; ++i) v[i] = static_cast<int64_t>(static_cast<uint64_t>(v[i]) << shift);
    return;
  }
  for (int64_t i = 0; i < count; ++i) v[i] = shift_round_even(v[i], -shift);
}

}  // namespace zimt
