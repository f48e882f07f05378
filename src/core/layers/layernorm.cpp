#include "zimt/layers/layernorm.hpp"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cassert>
#include <vector>

#include "zimt/fixed.hpp"
#include "zimt/quant.hpp"

namespace zimt {

namespace {

__extension__ using i128 = __int128;  // __extension__: no -Wpedantic warning
__extension__ using u128 = unsigned __int128;

constexpr int kQ = 20;                 // ŷ is kept as Q20 integers
constexpr int32_t kFinerSteps = 2;     // exponents below the max rule tried by the MSE rule
constexpr uint64_t kEpsQ40 = 10995116;  // round(1e-5 * 2^40)

// One sample's statistics: ŷ_i = (M·x_i - s1) · r · 2^(t-62).
struct SampleStats {
  int64_t s1 = 0;
  int64_t r = 0;
  int t = 0;
};

// x / 2^s rounded half-even (s >= 0) in 128 bits; |x| < 2^126, so s >= 127
// leaves less than one half: 0.
i128 shift_round_even_128(i128 x, int s) {
  if (s <= 0) return x;
  if (s >= 127) return 0;
  const i128 unit = static_cast<i128>(1) << s;
  const i128 q = x >> s;  // floor (arithmetic shift)
  const i128 rem = x - q * unit;
  const i128 half = unit / 2;
  return (rem > half || (rem == half && (q & 1) != 0)) ? q + 1 : q;
}

int bit_width_u128(u128 v) {
  const uint64_t hi = static_cast<uint64_t>(v >> 64);
  if (hi != 0) return 128 - __builtin_clzll(hi);
  const uint64_t lo = static_cast<uint64_t>(v);
  return lo == 0 ? 0 : 64 - __builtin_clzll(lo);
}

// D' = D + eps·M²·2^(-2e), returned as (v, k) with D' ≈ v·4^k and v < 2^127.
// Exact when D = 0 (the eps term alone, any e) and whenever the eps term is
// at least 2^-126 of D; otherwise the eps term is rounded UP at a resolution
// of 2^-124·D (so D' >= 1 unit, never 0). For inputs below ~2^-40 the eps
// term passes 2^126 and D (< 2^70) is shifted away, < 2^-56 of D'.
u128 variance_plus_eps(u128 d, int64_t m, int32_t e, int& k) {
  const u128 base = static_cast<u128>(static_cast<uint64_t>(m * m)) * kEpsQ40;  // in [1, 2^64)
  const int64_t down = 40 + 2 * static_cast<int64_t>(e);  // eps term = base / 2^down
  if (down > 0) {
    // Scale by 4^q so the eps term becomes base·2^(2q-down), 2q - down in {0, 1}.
    int64_t q = (down + 1) / 2;
    if (d != 0) q = std::min<int64_t>(q, (126 - bit_width_u128(d)) / 2);  // d·4^q < 2^126
    const int64_t sh = 2 * q - down;
    u128 eps = 0;
    if (sh >= 0) {
      eps = base << sh;
    } else if (-sh >= 64) {
      eps = 1;  // base < 2^64: a positive value below one unit rounds up to 1
    } else {
      const u128 fl = base >> -sh;
      eps = fl + ((fl << -sh) == base ? 0 : 1);
    }
    k = static_cast<int>(-q);
    // d = 0 (a constant sample) may come with any q: no shift of it at all.
    return (d == 0 ? u128{0} : d << (2 * q)) + eps;
  }
  int64_t left = -down;
  k = 0;
  if (left > 62) {  // keep base·2^left below 2^126 by taking out an even power 4^k
    k = static_cast<int>((left - 61) / 2);
    left -= 2 * k;
    return (base << left) + (k >= 64 ? 0 : d >> (2 * k));
  }
  return (base << left) + d;  // < 2^126 + 2^70
}

// T: int8_t or int16_t mantissas.
template <class T>
SampleStats sample_stats(const T* x, int64_t m, int32_t e) {
  int64_t s1 = 0, s2 = 0;  // |s1| <= 2^20·2^15, s2 <= 2^20·2^30
  for (int64_t i = 0; i < m; ++i) {
    s1 += x[i];
    s2 += int64_t{x[i]} * x[i];
  }
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

// ŷ_i in Q20 (|ŷ| <= sqrt(M) <= 2^10, so |result| <= 2^30).
template <class T>
void yhat_q20(const T* x, int64_t m, const SampleStats& st, int64_t* y) {
  // |M·x - s1| < 2^36 (int8: 2^28), r <= 2^32: the product is < 2^68, exact
  // in 128 bits. A large down (tiny scales, t < 0) leaves ±1 or 0. down <= 0
  // needs t >= 42, which only a constant sample at a huge exponent reaches
  // (D = 0, q unbounded in variance_plus_eps), and there every M·x - s1 is 0.
  const int down = 62 - st.t - kQ;
  for (int64_t i = 0; i < m; ++i) {
    const i128 v = static_cast<i128>(m * x[i] - st.s1) * st.r;
    // round_keep_sign (quant.hpp) in 128 bits: ŷ has the sign of M·x - s1 exactly.
    const i128 q = shift_round_even_128(v, down);
    y[i] = static_cast<int64_t>(q != 0 ? q : (v > 0) - (v < 0));
  }
}

// Σ (ŷ - Q(ŷ))² of one sample at output exponent out_e (ŷ in Q20; Q is the
// output rounding: round_keep_sign, then saturation at ±127), in Q40. Each term < 2^62, the sum < 2^82.
u128 squared_error(const int64_t* y, int64_t m, int32_t out_e) {
  const int shift = out_e + kQ;  // >= 0 for every candidate (out_e >= -20)
  u128 sum = 0;
  for (int64_t i = 0; i < m; ++i) {
    const int64_t q = saturate_i8(round_keep_sign(y[i], shift));
    const int64_t err = y[i] - q * (int64_t{1} << shift);  // |err| < 2^31
    sum += static_cast<u128>(static_cast<uint64_t>(err * err));
  }
  return sum;
}

// int8 output (the MSE rule and the cap, layernorm.hpp); returns the saturations.
template <class T>
int64_t normalise_sample(const T* x, int64_t m, int32_t e, const LayerNormSpec& spec, int8_t* out,
                         int32_t& out_exp, std::vector<int64_t>& y) {
  const SampleStats st = sample_stats(x, m, e);
  yhat_q20(x, m, st, y.data());
  // Candidates: the max rule (quant.hpp's rule: nothing saturates) and up
  // to kFinerSteps finer exponents; the one with the least squared error
  // wins (ties: the coarser), then the cap applies.
  const int32_t max_rule = requantize_i8(y.data(), m, -kQ, out);
  int32_t best = max_rule;
  u128 best_err = squared_error(y.data(), m, max_rule);
  for (int32_t c = max_rule - 1; c >= max_rule - kFinerSteps && c >= -kQ; --c) {
    const u128 err = squared_error(y.data(), m, c);
    if (err < best_err) {
      best = c;
      best_err = err;
    }
  }
  out_exp = std::min(best, spec.max_step_exp);
  const int shift = out_exp + kQ;
  int64_t saturated = 0;
  for (int64_t i = 0; i < m; ++i) {
    const int64_t v = round_keep_sign(y[i], shift);  // the sign of ŷ kept (quant.hpp)
    saturated += (v > 127 || v < -127) ? 1 : 0;
    out[i] = saturate_i8(v);
  }
  return saturated;
}

template <class T>
int64_t forward_i8(Act& out, const Tensor<T>& in, const LayerNormSpec& spec) {
  assert(out.shape == in.shape);
  const int64_t m = in.sample_numel();
  assert(m <= kLayerNormMaxSample);
  std::vector<int64_t> saturated(static_cast<size_t>(in.batch()), 0);
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, in.batch()), [&](const tbb::blocked_range<int64_t>& r) {
    std::vector<int64_t> y(static_cast<size_t>(m));
    for (int64_t n = r.begin(); n < r.end(); ++n)
      saturated[static_cast<size_t>(n)] =
          normalise_sample(in.sample(n), m, in.exp[n], spec, out.sample(n), out.exp[n], y);
  });
  int64_t total = 0;
  for (int64_t s : saturated) total += s;
  return total;
}

// dout (N,...), in (N,...) -> din (N,...)
template <class T>
void backward(Err& din, const Err& dout, const Tensor<T>& in) {
  assert(din.shape == in.shape && dout.shape == in.shape);
  const int64_t m = in.sample_numel();
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, in.batch()), [&](const tbb::blocked_range<int64_t>& r) {
    std::vector<int64_t> y(static_cast<size_t>(m));
    std::vector<i128> v(static_cast<size_t>(m));
    std::vector<int64_t> acc(static_cast<size_t>(m));
    for (int64_t n = r.begin(); n < r.end(); ++n) {
      const T* x = in.sample(n);
      const int16_t* d = dout.sample(n);
      const SampleStats st = sample_stats(x, m, in.exp[n]);
      yhat_q20(x, m, st, y.data());
      // A = Σd (< 2^35); G = Σ d·ŷq, |G| <= ||d||·||ŷq|| <= 2^15·sqrt(M)·2^20·sqrt(M) <= 2^55.
      int64_t a = 0, g = 0;
      for (int64_t i = 0; i < m; ++i) {
        a += d[i];
        g += int64_t{d[i]} * y[static_cast<size_t>(i)];
      }
      // v_i = [(M·d_i - A)·2^40 - ŷq_i·G]·r: |(M d - A) 2^40| < 2^76, |ŷq·G| <= 2^85, r <= 2^32.
      u128 max_abs = 0;
      for (int64_t i = 0; i < m; ++i) {
        const i128 centred = static_cast<i128>(m * d[i] - a) * (static_cast<i128>(1) << (2 * kQ));
        const i128 vi = (centred - static_cast<i128>(y[static_cast<size_t>(i)]) * g) * st.r;
        v[static_cast<size_t>(i)] = vi;
        const u128 mag = vi < 0 ? static_cast<u128>(-vi) : static_cast<u128>(vi);
        max_abs = std::max(max_abs, mag);
      }
      // Into int64 (< 2^62) by one round-half-even shift, then per-sample int16.
      int down = 0;
      while ((max_abs >> down) >= (static_cast<u128>(1) << 61)) ++down;
      for (int64_t i = 0; i < m; ++i)
        acc[static_cast<size_t>(i)] = static_cast<int64_t>(shift_round_even_128(v[static_cast<size_t>(i)], down));
      const int32_t e = dout.exp[n] - in.exp[n] - 2 * kQ + st.t - 62 + down;
      din.exp[n] = requantize_i16(acc.data(), m, e, din.sample(n));
    }
  });
}

}  // namespace

int64_t layernorm_forward(Act& out, const Act& in, const LayerNormSpec& spec) { return forward_i8(out, in, spec); }

int64_t layernorm_forward(Act& out, const Tensor<int16_t>& in, const LayerNormSpec& spec) {
  return forward_i8(out, in, spec);
}

// in (N,...) int16 -> out (N,...) int16
void layernorm_forward(Tensor<int16_t>& out, const Tensor<int16_t>& in) {
  assert(out.shape == in.shape);
  const int64_t m = in.sample_numel();
  assert(m <= kLayerNormMaxSample);
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, in.batch()), [&](const tbb::blocked_range<int64_t>& r) {
    std::vector<int64_t> y(static_cast<size_t>(m));
    for (int64_t n = r.begin(); n < r.end(); ++n) {
      yhat_q20(in.sample(n), m, sample_stats(in.sample(n), m, in.exp[n]), y.data());
      out.exp[n] = requantize_i16(y.data(), m, -kQ, out.sample(n));  // max rule, sign kept (quant.hpp)
    }
  });
}

void layernorm_backward(Err& din, const Err& dout, const Act& in) { backward(din, dout, in); }
void layernorm_backward(Err& din, const Err& dout, const Tensor<int16_t>& in) { backward(din, dout, in); }

}  // namespace zimt
