#include "zimt/layers/layernorm.hpp"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <string_view>

#include "zimt/kernels/gemm.hpp"
#include "zimt/numerics.hpp"
#include "zimt/quant.hpp"
#include "zimt/scratch.hpp"

namespace zimt {

namespace {

constexpr int kQ = 20;                  // ŷ is kept as Q20 integers
constexpr int32_t kFinerSteps = 2;      // exponents below the max rule tried by the MSE rule
constexpr uint64_t kEpsQ40 = 10995116;  // round(1e-5 * 2^40)

// One sample's statistics: ŷ_i = (M·x_i - s1) · r · 2^(t-62).
struct SampleStats {
  int64_t s1 = 0;
  int64_t r = 0;
  int t = 0;
};

// D' = D + eps·M²·2^(-2e), returned as (v, k) with D' ≈ v·4^k and v < 2^127.
// Exact when D = 0 (the eps term alone, any e) and whenever the eps term is
// at least 2^-126 of D; otherwise the eps term is rounded UP at a resolution
// of 2^-124·D (so D' >= 1 unit, never 0). For inputs below ~2^-40 the eps
// term passes 2^126 and D (< 2^70) is shifted away, < 2^-56 of D'.
u128 variance_plus_eps(u128 d, int64_t m, int32_t e, int& k) {
  const u128 base = static_cast<u128>(static_cast<uint64_t>(m * m)) * kEpsQ40;  // in [1, 2^64)
  const int64_t down = 40 + 2 * static_cast<int64_t>(e);                        // eps term = base / 2^down
  if (down > 0) {
    // Scale by 4^q so the eps term becomes base·2^(2q-down), 2q - down in {0, 1}.
    int64_t q = (down + 1) / 2;
    if (d != 0) q = std::min<int64_t>(q, (126 - bit_width_u128(d)) / 2);  // d·4^q < 2^126
    const int64_t sh = 2 * q - down;
    const u128 eps = sh >= 0 ? base << sh : shift_round_up_u128(base, -sh);  // base >= 1: eps >= 1
    k = static_cast<int>(-q);
    // d = 0 (a constant sample) may come with any q: no shift of it at all.
    return (d == 0 ? u128{0} : d << (2 * q)) + eps;
  }
  int64_t left = -down;
  k = 0;
  if (left > 62) {  // keep base·2^left below 2^126 by taking out an even power 4^k
    k = static_cast<int>((left - 61) / 2);
    left -= int64_t{2} * k;
    return (base << left) + (k >= 64 ? 0 : d >> (2 * k));
  }
  return (base << left) + d;  // < 2^126 + 2^70
}

// The statistics from the exact sums s1 = Σx, s2 = Σx² of M values at exponent e.
SampleStats stats_from_sums(int64_t s1, int64_t s2, int64_t m, int32_t e) {
  // D = M·Σx² - (Σx)² >= 0 (Cauchy-Schwarz), <= 2^20·2^20·2^30 = 2^70 (int8: 2^54).
  const u128 d = static_cast<u128>(static_cast<i128>(m) * s2 - static_cast<i128>(s1) * s1);
  int k = 0;
  const u128 v = variance_plus_eps(d, m, e, k);  // D' ≈ v·4^k, 1 <= v < 2^127
  // Normalise into [2^60, 2^62) by an even shift: dn = v·4^j (j may be < 0).
  const int bits = bit_width_u128(v);  // 2^(bits-1) <= v < 2^bits
  int j = 0;
  uint64_t dn = 0;
  if (bits <= 62) {
    j = bits >= 61 ? 0 : (62 - bits) / 2;  // bits + 2j is 61 or 62
    dn = static_cast<uint64_t>(v) << (2 * j);
  } else {
    j = -((bits - 61) / 2);  // bits + 2j is 61 or 62; floor shift: relative error < 2^-60
    dn = static_cast<uint64_t>(v >> (-2 * j));
  }
  // sqrt(D') = sqrt(dn)·2^(k - j); call t = j - k so 1/sqrt(D') = r·2^(t-62).
  const uint64_t s = isqrt_u64(dn);  // in [2^30, 2^31)
  const int64_t r = div_round_even(int64_t{1} << 62, static_cast<int64_t>(s));
  return {s1, r, j - k};
}

// ŷ of one value in Q20 from its centred form c = M·x - s1: c·r·2^(t-62)
// rounded as round_keep_sign (numerics.hpp) in 128 bits, so ŷ has the sign of
// c exactly. |c| < 2^36 (int8: 2^28), r <= 2^32: the product is < 2^68,
// exact. A large down (tiny scales, t < 0) leaves ±1 or 0. down <= 0 needs
// t >= 42, which only a constant sample at a huge exponent reaches (D = 0,
// q unbounded in variance_plus_eps), and there every c is 0.
int64_t yhat_exact(int64_t centred, const SampleStats& st) {
  const i128 v = static_cast<i128>(centred) * st.r;
  return static_cast<int64_t>(keep_sign(shift_round_even_i128(v, 62 - st.t - kQ), v));  // |v| < 2^68
}

// ---------------------------------------------------------------- int8 inputs
// An int8 sample holds at most 256 distinct values and ŷ_i depends on x_i
// alone (given the sample's statistics): everything per entry is a function
// of the value, evaluated once per value present (exactly as above) and
// weighted by its count.

// One int8 sample as a histogram: count[b] entries have the bit pattern b
// (the value static_cast<int8_t>(b)); M <= 2^20 fits the counts.
struct Int8Sample {
  std::array<uint32_t, 256> count{};
  std::array<int64_t, 256> yhat{};     // ŷ (Q20) of each value present
  std::array<uint8_t, 256> present{};  // the bit patterns with count > 0, ascending
  int n_present = 0;
  SampleStats st;
};

void analyse_int8(const int8_t* x, int64_t m, int32_t e, Int8Sample& h) {
  // Four partial histograms: runs of one value (a ReLU output is mostly 0)
  // would otherwise chain every increment through one counter in memory.
  std::array<std::array<uint32_t, 256>, 4> part{};
  const uint8_t* b = reinterpret_cast<const uint8_t*>(x);
  int64_t i = 0;
  for (; i + 4 <= m; i += 4) {
    ++part[0][b[i]];
    ++part[1][b[i + 1]];
    ++part[2][b[i + 2]];
    ++part[3][b[i + 3]];
  }
  for (; i < m; ++i) ++part[0][b[i]];
  // Σx and Σx² from the counts: |s1| <= 2^20·2^7, s2 <= 2^20·2^14, exact.
  int64_t s1 = 0, s2 = 0;
  h.n_present = 0;
  for (int v = -128; v < 128; ++v) {
    const auto key = static_cast<uint8_t>(v);
    const uint32_t c = part[0][key] + part[1][key] + part[2][key] + part[3][key];
    h.count[key] = c;
    if (c == 0) continue;
    h.present[static_cast<size_t>(h.n_present++)] = key;
    s1 += int64_t{v} * c;
    s2 += int64_t{v} * v * c;
  }
  h.st = stats_from_sums(s1, s2, m, e);
  for (int p = 0; p < h.n_present; ++p) {
    const uint8_t key = h.present[static_cast<size_t>(p)];
    h.yhat[key] = yhat_exact(m * static_cast<int8_t>(key) - s1, h.st);
  }
}

// Σ (ŷ - Q(ŷ))² in Q40 over the values present, each weighted by its count:
// each term < 2^62, times a count <= 2^20, the sum < 2^82.
u128 squared_error_int8(const Int8Sample& h, int32_t out_e) {
  const int shift = out_e + kQ;  // >= 0 for every candidate (out_e >= -20)
  u128 sum = 0;
  for (int p = 0; p < h.n_present; ++p) {
    const uint8_t key = h.present[static_cast<size_t>(p)];
    const int64_t y = h.yhat[key];
    const int64_t q = int64_t{saturate_i8(round_keep_sign(y, shift))};
    const int64_t err = y - q * (int64_t{1} << shift);  // |err| < 2^31
    sum += static_cast<u128>(static_cast<uint64_t>(err * err)) * h.count[key];
  }
  return sum;
}

// The MSE rule over the candidates (layernorm.hpp): the max rule and up to
// kFinerSteps finer exponents (not below -kQ); err(c) the squared error at
// exponent c; ties keep the coarser. Then the cap.
template <class ErrFn>
int32_t choose_exponent(int32_t max_rule, const LayerNormSpec& spec, ErrFn err_at) {
  int32_t best = max_rule;
  u128 best_err = err_at(max_rule);
  for (int32_t c = max_rule - 1; c >= max_rule - kFinerSteps && c >= -kQ; --c) {
    const u128 err = err_at(c);
    if (err < best_err) {
      best = c;
      best_err = err;
    }
  }
  return std::min(best, spec.max_step_exp);
}

// int8 output of one int8 sample; returns the saturations.
int64_t normalise_int8(const int8_t* x, int64_t m, int32_t e, const LayerNormSpec& spec, int8_t* out,
                       int32_t& out_exp) {
  Int8Sample h;
  analyse_int8(x, m, e, h);
  // The max rule (quant.hpp) depends on max|ŷ| only: the values present suffice.
  std::array<int64_t, 256> ys{};
  std::array<int8_t, 256> scratch{};
  for (int p = 0; p < h.n_present; ++p) ys[static_cast<size_t>(p)] = h.yhat[h.present[static_cast<size_t>(p)]];
  const int32_t max_rule = requantize_i8(ys.data(), h.n_present, -kQ, scratch.data());
  out_exp = choose_exponent(max_rule, spec, [&](int32_t c) { return squared_error_int8(h, c); });
  const int shift = out_exp + kQ;
  // The output of each value present, then one table look-up per entry.
  std::array<int8_t, 256> table{};
  int64_t saturated = 0;
  for (int p = 0; p < h.n_present; ++p) {
    const uint8_t key = h.present[static_cast<size_t>(p)];
    const int64_t v = round_keep_sign(h.yhat[key], shift);  // the sign of ŷ kept (numerics.hpp)
    saturated += (v > 127 || v < -127) ? int64_t{h.count[key]} : 0;
    table[key] = saturate_i8(v);
  }
  const uint8_t* b = reinterpret_cast<const uint8_t*>(x);
  for (int64_t i = 0; i < m; ++i) out[i] = table[b[i]];
  return saturated;
}

// --------------------------------------------------------------- int16 inputs
// Σx, Σx², min and max of one int16 sample: |s1| <= 2^20·2^15, s2 <= 2^20·2^30.
struct Int16Sums {
  int64_t s1 = 0, s2 = 0, lo = 0, hi = 0;
};

// In int32 lanes where it fits (x² <= 32767² < 2^31), which GCC vectorises.
[[gnu::always_inline]] inline Int16Sums sums_int16(const int16_t* x, int64_t m) {
  int64_t s1 = 0, s2 = 0;
  int32_t lo = m > 0 ? x[0] : 0, hi = lo;
  for (int64_t i = 0; i < m; ++i) {
    const int32_t v = x[i];
    s1 += v;
    s2 += int64_t{v} * v;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  return {s1, s2, lo, hi};
}

// yhat_int16's `each` when nothing rides along (the forward passes).
struct NoEach {
  void operator()(int64_t, int64_t) const {}
};

// ŷ_i in Q20 of one int16 sample (|ŷ| <= sqrt(M) <= 2^10, so |y| <= 2^30).
// The product (M·x_i - s1)·r is at most max(|M·lo - s1|, |M·hi - s1|)·r;
// when that is below 2^62 and the rounding shift is in [1, 62], the
// 128-bit rounding of yhat_exact is done in int64 (same result: the
// identity of shift_round_even_branchless (numerics.hpp), no overflow
// below 2^62), else per entry in 128 bits. each(i, y_i) runs on every
// entry as it is written (the backward's sums ride along: one pass fewer).
template <class Each = NoEach>
[[gnu::always_inline]] inline void yhat_int16(const int16_t* x, int64_t m, const Int16Sums& sums, const SampleStats& st,
                                              int64_t* y, Each&& each = {}) {
  const int64_t s1 = st.s1, r = st.r;
  const int down = 62 - st.t - kQ;
  const u128 reach = std::max(abs_u128(m * sums.lo - s1), abs_u128(m * sums.hi - s1)) * static_cast<u128>(r);
  if (down >= 1 && down <= 62 && reach < (u128{1} << 62)) {
    for (int64_t i = 0; i < m; ++i) {
      const int64_t v = (m * x[i] - s1) * r;  // |v| < 2^62
      y[i] = keep_sign(shift_round_even_branchless(v, down), v);
      each(i, y[i]);
    }
  } else {
    for (int64_t i = 0; i < m; ++i) {
      y[i] = yhat_exact(m * x[i] - s1, st);
      each(i, y[i]);
    }
  }
}

// Σ (ŷ - Q(ŷ))² (Q40) at exponents max_rule - k, k < n (n <= 1 + kFinerSteps), in one pass.
[[gnu::always_inline]] inline void squared_errors(const int64_t* y, int64_t m, int32_t max_rule, int n, u128* err) {
  std::array<int, 1 + kFinerSteps> shift{};
  for (int k = 0; k < n; ++k) {
    shift[static_cast<size_t>(k)] = max_rule - k + kQ;
    err[k] = 0;
  }
  for (int64_t i = 0; i < m; ++i) {
    for (int k = 0; k < n; ++k) {
      const int s = shift[static_cast<size_t>(k)];
      const int64_t q = int64_t{saturate_i8(round_keep_sign(y[i], s))};
      const int64_t d = y[i] - q * (int64_t{1} << s);  // |d| < 2^31
      err[k] += static_cast<uint64_t>(d * d);
    }
  }
}

// int8 output of one int16 sample; returns the saturations.
[[gnu::always_inline]] inline int64_t normalise_int16(const int16_t* x, int64_t m, int32_t e, const LayerNormSpec& spec,
                                                      int8_t* out, int32_t& out_exp) {
  const Int16Sums sums = sums_int16(x, m);
  const SampleStats st = stats_from_sums(sums.s1, sums.s2, m, e);
  int64_t* y = thread_scratch<int64_t>(ScratchSlot::body0, m);
  yhat_int16(x, m, sums, st, y);
  const int32_t max_rule = requantize_i8(y, m, -kQ, out);
  const int n = static_cast<int>(std::min<int64_t>(1 + kFinerSteps, max_rule + kQ + 1));  // c >= -kQ
  std::array<u128, 1 + kFinerSteps> errs{};
  squared_errors(y, m, max_rule, n, errs.data());
  out_exp = choose_exponent(max_rule, spec, [&](int32_t c) { return errs[static_cast<size_t>(max_rule - c)]; });
  const int shift = out_exp + kQ;
  int64_t saturated = 0;
  for (int64_t i = 0; i < m; ++i) {
    const int64_t v = round_keep_sign(y[i], shift);  // the sign of ŷ kept (numerics.hpp)
    saturated += (v > 127 || v < -127) ? 1 : 0;
    out[i] = saturate_i8(v);
  }
  return saturated;
}

// ------------------------------------------------------------------- backward
// round_keep_sign (numerics.hpp) as straight-line code, for |x| < 2^62 and
// k >= 1 (shift_round_even_branchless's domain).
[[gnu::always_inline]] inline int64_t round_keep_sign_straight(int64_t x, int k) {
  return keep_sign(shift_round_even_branchless(x, k), x);
}

// dx_i = v_i·2^(f - e - 40 + t - 62) with
//   v_i = [(M·d_i - A)·2^40 - ŷq_i·G]·r = K1·c_i - K2·y_i,
//   c_i = M·d_i - A, y_i = ŷq_i, K1 = r·2^40, K2 = G·r,
// A = Σd (< 2^35) and G = Σ d·ŷq, |G| <= ||d||·||ŷq|| <= 2^15·sqrt(M)·2^20·sqrt(M)
// <= 2^55 (every partial sum too, by the same bound on its subset).
// Exact in 128 bits: |K1·c| < 2^32·2^40·2^36 = 2^108, |K2·y| <= 2^55·2^32·2^30 = 2^117.
// The result, per sample: acc_i = v_i rounded half-even by `down`, the
// smallest shift leaving max|v| below 2^61 (so down <= 57), then
// requantize_i16 of acc (quant.hpp), i.e. round_keep_sign(acc_i, s) with s
// its max rule's shift. Returned: the int16 values and down + s.
// int16 output of one int16 sample: requantize_i16 of ŷ (quant.hpp: the max
// rule, the sign kept). Returns the output exponent. kFused: the same values
// from loops compiled with the passes (shift_to_fit and round_keep_sign,
// |ŷ| <= 2^30 in Q20); else by calling requantize_i16.
template <bool kFused>
[[gnu::always_inline]] inline int32_t forward_i16_sample(const int16_t* x, int64_t m, int32_t e, int16_t* out) {
  const Int16Sums sums = sums_int16(x, m);
  int64_t* y = thread_scratch<int64_t>(ScratchSlot::body0, m);
  yhat_int16(x, m, sums, stats_from_sums(sums.s1, sums.s2, m, e), y);
  if (!kFused) return requantize_i16(y, m, -kQ, out);
  uint64_t max_abs = 0;
  for (int64_t i = 0; i < m; ++i) max_abs = std::max(max_abs, abs_u64(y[i]));
  const int s = shift_to_fit(max_abs, 32767);
  if (s == 0) {
    for (int64_t i = 0; i < m; ++i) out[i] = static_cast<int16_t>(y[i]);  // fits: copied exactly
  } else {
    for (int64_t i = 0; i < m; ++i) out[i] = static_cast<int16_t>(round_keep_sign_straight(y[i], s));
  }
  return -kQ + s;
}

struct BackwardSample {
  const int16_t* d;  // dout, M values
  const int64_t* y;  // ŷq, M values
  int64_t m = 0, a = 0, r = 0, g = 0;
  int16_t d_lo = 0, d_hi = 0;  // min(0, min d), max(0, max d)
  int64_t y_max = 0;           // max |y|
};

i128 v_exact(const BackwardSample& s, int64_t i, i128 k2) {
  return (static_cast<i128>(s.m * s.d[i] - s.a) * s.r << (2 * kQ)) - s.y[i] * k2;
}

// The definition above, in 128 bits per entry.
int32_t backward_exact(const BackwardSample& s, int16_t* out) {
  const i128 k2 = static_cast<i128>(s.g) * s.r;
  i128* v = thread_scratch<i128>(ScratchSlot::body2, s.m);
  int64_t* acc = thread_scratch<int64_t>(ScratchSlot::body1, s.m);
  u128 max_abs = 0;
  for (int64_t i = 0; i < s.m; ++i) {
    v[i] = v_exact(s, i, k2);
    max_abs = std::max(max_abs, abs_u128(v[i]));
  }
  const int down = std::max(0, bit_width_u128(max_abs) - 61);
  for (int64_t i = 0; i < s.m; ++i)  // branch-free half-even: no overflow below 2^118 for down <= 57
    acc[i] = static_cast<int64_t>(down == 0 ? v[i] : shift_round_even_branchless(v[i], down));
  return down + requantize_i16(acc, s.m, 0, out);
}

// The same values from int64 arithmetic (false where its bounds do not hold:
// then backward_exact). With C = max|c|, Y = max|y| and 2^f > C + Y:
//   κ1 = floor(K1·2^(f - t0)), κ2 = floor(K2·2^(f - t0)), t0 chosen so that
//   (K1·C + |K2|·Y)·2^(f - t0) < 2^61; then S_i = κ1·c_i - κ2·y_i fits int64
//   (< 2^61 + Y) and differs from v_i·2^(f - t0) by less than C + Y < 2^f,
//   so w_i = floor(S_i / 2^f) has v_i / 2^t0 in (w_i - 1, w_i + 2).
// max|v| is exact: it lies at an entry with |w| >= max|w| - 3, evaluated in
// 128 bits. Then down and s are those of backward_exact, and t0 >= down
// (K1·C + |K2|·Y >= max|v|). The result is a monotone function of v_i; at
// v = x·2^t0 it is round_keep_sign(x, k), k = down + s - t0 >= 1 (rounding
// x·2^(t0 - down) by s is rounding x by k). So where x = w_i - 1 and
// x = w_i + 2 give the same value, that is the result; elsewhere (a
// fraction ~3·2^-k of the entries) the entry is evaluated in 128 bits.
// [[gnu::always_inline]]: the loops are compiled into each implementation
// of the passes (LayerNormPasses, below).
[[gnu::always_inline]] inline bool backward_bounded(const BackwardSample& s, int16_t* out, int32_t& shift) {
  const int64_t m = s.m;
  const int16_t d_lo = s.d_lo, d_hi = s.d_hi;
  const int64_t y_max = s.y_max;                                                      // |y| <= 2^30
  const uint64_t c_max = std::max(abs_u64(m * d_lo - s.a), abs_u64(m * d_hi - s.a));  // < 2^36
  const int f = bit_width_u64(c_max + static_cast<uint64_t>(y_max));                  // C + Y < 2^f
  const i128 k1 = static_cast<i128>(s.r) << (2 * kQ);
  const i128 k2 = static_cast<i128>(s.g) * s.r;
  const u128 bound = static_cast<u128>(k1) * c_max + abs_u128(k2) * static_cast<uint64_t>(y_max);  // < 2^118
  const int t0 = std::max(0, bit_width_u128(bound) + f - 61);
  // floor(k·2^(f - t0)); 0 for a coefficient whose factor is 0 everywhere.
  const auto scaled = [&](i128 k, uint64_t factor_max) {
    if (factor_max == 0) return int64_t{0};
    return static_cast<int64_t>(f >= t0 ? k << (f - t0) : k >> (t0 - f));
  };
  const int64_t kappa1 = scaled(k1, c_max), kappa2 = scaled(k2, static_cast<uint64_t>(y_max));
  int64_t* w = thread_scratch<int64_t>(ScratchSlot::body1, m);
  int64_t w_max = 0;
  for (int64_t i = 0; i < m; ++i) {
    w[i] = (kappa1 * (m * s.d[i] - s.a) - kappa2 * s.y[i]) >> f;
    w_max = std::max(w_max, w[i] < 0 ? -w[i] : w[i]);
  }
  // Blocks without a candidate are skipped by a count the compiler vectorises.
  u128 v_max = 0;
  constexpr int64_t kBlock = 256;
  for (int64_t i0 = 0; i0 < m; i0 += kBlock) {
    const int64_t end = std::min(m, i0 + kBlock);
    int64_t candidates = 0;
    for (int64_t i = i0; i < end; ++i) candidates += (w[i] < 0 ? -w[i] : w[i]) >= w_max - 3 ? 1 : 0;
    if (candidates == 0) continue;
    for (int64_t i = i0; i < end; ++i)
      if ((w[i] < 0 ? -w[i] : w[i]) >= w_max - 3) v_max = std::max(v_max, abs_u128(v_exact(s, i, k2)));
  }
  const int down = std::max(0, bit_width_u128(v_max) - 61);
  const int sq = shift_to_fit(static_cast<uint64_t>(shift_round_even_u128(v_max, down)), 32767);
  const int k = down + sq - t0;
  if (sq == 0 || k < 1) return false;
  int64_t unsure = 0;
  for (int64_t i = 0; i < m; ++i) {
    const int64_t lo = round_keep_sign_straight(w[i] - 1, k), hi = round_keep_sign_straight(w[i] + 2, k);
    out[i] = static_cast<int16_t>(lo);
    unsure += lo != hi ? 1 : 0;
  }
  if (unsure > 0) {
    for (int64_t i = 0; i < m; ++i) {
      if (round_keep_sign_straight(w[i] - 1, k) == round_keep_sign_straight(w[i] + 2, k)) continue;
      const i128 v = v_exact(s, i, k2);
      const auto acc = static_cast<int64_t>(down == 0 ? v : shift_round_even_branchless(v, down));
      out[i] = static_cast<int16_t>(round_keep_sign(acc, sq));
    }
  }
  shift = down + sq;
  return true;
}

// A = Σd, G = Σ d·y of one sample, and the extremes of d and |y| that
// backward_bounded's bounds take, added one entry at a time as ŷq is
// written (yhat_int16's `each`, or backward_int8's table lookups).
struct BackwardSums {
  int64_t a = 0, g = 0, y_max = 0;
  int16_t d_lo = 0, d_hi = 0;
  void add(int16_t d, int64_t y) {
    a += d;
    g += d * y;
    d_lo = std::min(d_lo, d);
    d_hi = std::max(d_hi, d);
    y_max = std::max(y_max, y < 0 ? -y : y);
  }
  BackwardSample sample(const int16_t* d, const int64_t* y, int64_t m, int64_t r) const {
    return {d, y, m, a, r, g, d_lo, d_hi, y_max};
  }
};

// dx of one sample from its ŷq and sums (BackwardSums): the int64 path
// where it applies (and kBounded), else the 128-bit definition. Returns
// down + s.
template <bool kBounded>
[[gnu::always_inline]] inline int32_t backward_from_yhat(const BackwardSample& s, int16_t* out) {
  int32_t shift = 0;
  if (kBounded && backward_bounded(s, out, shift)) return shift;
  return backward_exact(s, out);
}

// x (M) int8, d (M) -> dx (M); returns the exponent offset down + s + t.
template <bool kBounded>
[[gnu::always_inline]] inline int32_t backward_int8(const int8_t* x, const int16_t* d, int64_t m, int32_t e,
                                                    int16_t* dx) {
  Int8Sample h;
  analyse_int8(x, m, e, h);
  const uint8_t* b = reinterpret_cast<const uint8_t*>(x);
  int64_t* y = thread_scratch<int64_t>(ScratchSlot::body0, m);
  BackwardSums sums;
  for (int64_t i = 0; i < m; ++i) {
    y[i] = h.yhat[b[i]];
    sums.add(d[i], y[i]);
  }
  return backward_from_yhat<kBounded>(sums.sample(d, y, m, h.st.r), dx) + h.st.t;
}

template <bool kBounded>
[[gnu::always_inline]] inline int32_t backward_int16(const int16_t* x, const int16_t* d, int64_t m, int32_t e,
                                                     int16_t* dx) {
  const Int16Sums sums = sums_int16(x, m);
  const SampleStats st = stats_from_sums(sums.s1, sums.s2, m, e);
  int64_t* y = thread_scratch<int64_t>(ScratchSlot::body0, m);
  BackwardSums d_sums;
  yhat_int16(x, m, sums, st, y, [&](int64_t i, int64_t yi) { d_sums.add(d[i], yi); });
  return backward_from_yhat<kBounded>(d_sums.sample(d, y, m, st.r), dx) + st.t;
}

// The passes compiled twice: for the baseline, and for AVX-512 (F, BW, VL,
// DQ: 64-bit multiplies and arithmetic shifts in vectors), where GCC
// vectorises the int64 loops. Same source, integer arithmetic: the same
// values (tests/core/test_layernorm_passes.cpp checks it).
#define ZIMT_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))

bool always() { return true; }
bool has_avx512() {
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
}

int64_t normalise_i16_scalar(const int16_t* x, int64_t m, int32_t e, const LayerNormSpec& spec, int8_t* out,
                             int32_t& out_exp) {
  return normalise_int16(x, m, e, spec, out, out_exp);
}
ZIMT_AVX512 int64_t normalise_i16_avx512(const int16_t* x, int64_t m, int32_t e, const LayerNormSpec& spec, int8_t* out,
                                         int32_t& out_exp) {
  return normalise_int16(x, m, e, spec, out, out_exp);
}
int32_t forward_i16_scalar(const int16_t* x, int64_t m, int32_t e, int16_t* out) {
  return forward_i16_sample<true>(x, m, e, out);
}
ZIMT_AVX512 int32_t forward_i16_avx512(const int16_t* x, int64_t m, int32_t e, int16_t* out) {
  return forward_i16_sample<true>(x, m, e, out);
}
int32_t forward_i16_exact(const int16_t* x, int64_t m, int32_t e, int16_t* out) {
  return forward_i16_sample<false>(x, m, e, out);
}
int32_t backward_i8_scalar(const int8_t* x, const int16_t* d, int64_t m, int32_t e, int16_t* dx) {
  return backward_int8<true>(x, d, m, e, dx);
}
ZIMT_AVX512 int32_t backward_i8_avx512(const int8_t* x, const int16_t* d, int64_t m, int32_t e, int16_t* dx) {
  return backward_int8<true>(x, d, m, e, dx);
}
int32_t backward_i8_exact(const int8_t* x, const int16_t* d, int64_t m, int32_t e, int16_t* dx) {
  return backward_int8<false>(x, d, m, e, dx);
}
int32_t backward_i16_scalar(const int16_t* x, const int16_t* d, int64_t m, int32_t e, int16_t* dx) {
  return backward_int16<true>(x, d, m, e, dx);
}
ZIMT_AVX512 int32_t backward_i16_avx512(const int16_t* x, const int16_t* d, int64_t m, int32_t e, int16_t* dx) {
  return backward_int16<true>(x, d, m, e, dx);
}
int32_t backward_i16_exact(const int16_t* x, const int16_t* d, int64_t m, int32_t e, int16_t* dx) {
  return backward_int16<false>(x, d, m, e, dx);
}

const std::array<LayerNormPasses, 3> kPasses{
    LayerNormPasses{"avx512", &has_avx512, &normalise_i16_avx512, &forward_i16_avx512, &backward_i8_avx512,
                    &backward_i16_avx512},
    LayerNormPasses{"scalar", &always, &normalise_i16_scalar, &forward_i16_scalar, &backward_i8_scalar,
                    &backward_i16_scalar},
    LayerNormPasses{"exact", &always, &normalise_i16_scalar, &forward_i16_exact, &backward_i8_exact,
                    &backward_i16_exact},
};

const LayerNormPasses& chosen_passes() {
  // The vector passes follow the GEMM's choice (ZIMT_KERNEL included).
  static const LayerNormPasses& chosen =
      std::string_view(kernels::kernel_name()) == "avx512vnni" && kPasses[0].available() ? kPasses[0] : kPasses[1];
  return chosen;
}

int64_t normalise_sample(const int8_t* x, int64_t m, int32_t e, const LayerNormSpec& spec, int8_t* out,
                         int32_t& out_exp, const LayerNormPasses&) {
  return normalise_int8(x, m, e, spec, out, out_exp);
}
int64_t normalise_sample(const int16_t* x, int64_t m, int32_t e, const LayerNormSpec& spec, int8_t* out,
                         int32_t& out_exp, const LayerNormPasses& passes) {
  return passes.normalise_i16(x, m, e, spec, out, out_exp);
}

template <class T>
int64_t forward_i8(Act out, const Tensor<T>& in, const LayerNormSpec& spec, const LayerNormPasses& passes) {
  assert(out.shape == in.shape);
  const int64_t m = in.sample_numel();
  assert(m <= kLayerNormMaxSample);
  int64_t* saturated = thread_scratch<int64_t>(ScratchSlot::caller0, in.batch());
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, in.batch()), [&](const tbb::blocked_range<int64_t>& r) {
    for (int64_t n = r.begin(); n < r.end(); ++n)
      saturated[n] = normalise_sample(in.sample(n), m, in.exp[n], spec, out.sample(n), out.exp[n], passes);
  });
  int64_t total = 0;
  for (int64_t n = 0; n < in.batch(); ++n) total += saturated[n];
  return total;
}

// in (N,...) int16 -> out (N,...) int16
void forward_i16(Tensor<int16_t> out, const Tensor<int16_t>& in, const LayerNormPasses& passes) {
  assert(out.shape == in.shape);
  const int64_t m = in.sample_numel();
  assert(m <= kLayerNormMaxSample);
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, in.batch()), [&](const tbb::blocked_range<int64_t>& r) {
    for (int64_t n = r.begin(); n < r.end(); ++n)
      out.exp[n] = passes.forward_i16(in.sample(n), m, in.exp[n], out.sample(n));
  });
}

int32_t backward_sample(const int8_t* x, const int16_t* d, int64_t m, int32_t e, int16_t* dx,
                        const LayerNormPasses& passes) {
  return passes.backward_i8(x, d, m, e, dx);
}
int32_t backward_sample(const int16_t* x, const int16_t* d, int64_t m, int32_t e, int16_t* dx,
                        const LayerNormPasses& passes) {
  return passes.backward_i16(x, d, m, e, dx);
}

// dout (N,...), in (N,...) -> din (N,...)
template <class T>
void backward(Err& din, const Err& dout, const Tensor<T>& in, const LayerNormPasses& passes) {
  assert(din.shape == in.shape && dout.shape == in.shape);
  const int64_t m = in.sample_numel();
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, in.batch()), [&](const tbb::blocked_range<int64_t>& r) {
    for (int64_t n = r.begin(); n < r.end(); ++n) {
      const int32_t shift = backward_sample(in.sample(n), dout.sample(n), m, in.exp[n], din.sample(n), passes);
      din.exp[n] = dout.exp[n] - in.exp[n] - 2 * kQ - 62 + shift;
    }
  });
}

}  // namespace

std::span<const LayerNormPasses> layernorm_passes() { return kPasses; }

int64_t layernorm_forward(const Activation& out, const Activation& in, const LayerNormSpec& spec) {
  return layernorm_forward(out, in, spec, chosen_passes());
}

void layernorm_backward(Err& din, const Err& dout, const Activation& in) {
  layernorm_backward(din, dout, in, chosen_passes());
}

int64_t layernorm_forward(const Activation& out, const Activation& in, const LayerNormSpec& spec,
                          const LayerNormPasses& passes) {
  if (out.width == ActivationWidth::int8)
    return visit(in, [&](auto x) { return forward_i8(out.as<int8_t>(), x, spec, passes); });
  forward_i16(out.as<int16_t>(), in.as<int16_t>(), passes);  // int16 outputs read int16 inputs only
  return 0;
}

void layernorm_backward(Err& din, const Err& dout, const Activation& in, const LayerNormPasses& passes) {
  visit(in, [&](auto x) { backward(din, dout, x, passes); });
}

}  // namespace zimt
