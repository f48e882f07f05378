// The ZIM sampler (zim.hpp) against the moments of the (zero-inflated)
// multinomial (docs/design.md, Update rules; the paper's Props. 10 and 11), with bounds from the distribution.
//
// Each moment check is a z-score against the true standard error of its
// estimator over R independent draws (steps 0..R-1); |z| < 5 fails by chance
// with probability 5.7e-7 per check (normal tail; R >= 4000 makes the normal
// approximation of these sums of bounded variables accurate), so the ~100
// checks here give a false failure rate below 1e-4 per run.
#include "record_blocks.hpp"
#include "zimt/numerics.hpp"
#include "zimt/optim/philox_batch.hpp"
#include "zimt/optim/zim.hpp"

#include <doctest/doctest.h>
#include <tbb/global_control.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <vector>

using namespace zimt;
using namespace zimt::optim;

namespace {

constexpr double z_bound = 5.0;

// Real-valued category probabilities of a rule, for the small test problems:
// g real = g * 2^g_exp, c and alpha real.
std::vector<double> probabilities(const std::vector<int64_t>& g, int g_exp, const ZimRuleParams& rule) {
  std::vector<double> q(g.size());
  double l1 = 0;
  for (int64_t x : g) l1 += std::ldexp(std::fabs(static_cast<double>(x)), g_exp);
  const double c = std::ldexp(static_cast<double>(rule.c), -32);
  const double alpha = std::ldexp(static_cast<double>(rule.alpha), -32);
  const auto n = static_cast<double>(rule.n);
  for (size_t i = 0; i < g.size(); ++i) {
    const double a = std::ldexp(std::fabs(static_cast<double>(g[i])), g_exp);
    if (rule.rule == ZimRule::authors)
      q[i] = (a + c) / (l1 + static_cast<double>(g.size()) * c);
    else
      q[i] = alpha * l1 > n ? a / l1 : alpha * a / n;
  }
  return q;
}

struct Draws {
  std::vector<std::vector<int32_t>> x;  // R draws of d counts
  std::vector<int8_t> sign;
};

Draws draw_many(const std::vector<int64_t>& g, int g_exp, const ZimRuleParams& rule, int R, uint64_t seed) {
  Draws out;
  ZimWorkspace ws;
  for (int r = 0; r < R; ++r) {
    std::vector<int32_t> counts(g.size());
    zim_sample(g, g_exp, rule, {seed, static_cast<uint64_t>(r), 0, Stream::sample}, counts, ws);
    out.x.push_back(std::move(counts));
  }
  out.sign = ws.scaled.sign;
  return out;
}

double mean_of(const std::vector<double>& v) {
  return std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}
double var_of(const std::vector<double>& v) {
  const double m = mean_of(v);
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return s / static_cast<double>(v.size() - 1);
}

// A Binomial(n, p) variable Y observed R times: z-scores of its sample mean
// and sample variance. Var of the sample variance: (mu4 - sigma^4 (R-3)/(R-1)) / R
// with the binomial's central moments sigma^2 = n p q, mu4 = n p q (1 + 3 (n-2) p q).
void check_binomial(const std::vector<double>& y, double n, double p, const char* what) {
  if (p == 0 || p == 1) {  // degenerate: Y = n p every time
    for (double v : y) CHECK_MESSAGE(v == n * p, what);
    return;
  }
  const auto R = static_cast<double>(y.size());
  const double s2 = n * p * (1 - p);
  const double mu4 = s2 * (1 + 3 * (n - 2) * p * (1 - p));
  const double z_mean = (mean_of(y) - n * p) / std::sqrt(s2 / R);
  const double z_var = (var_of(y) - s2) / std::sqrt((mu4 - s2 * s2 * (R - 3) / (R - 1)) / R);
  CHECK_MESSAGE(std::fabs(z_mean) < z_bound, what << ": mean " << mean_of(y) << " vs " << n * p << " z=" << z_mean);
  CHECK_MESSAGE(std::fabs(z_var) < z_bound, what << ": var " << var_of(y) << " vs " << s2 << " z=" << z_var);
}

// All the moments of Prop. 10 for one rule on one gradient; the per-category
// and pairwise checks cover `picked` (all categories if empty).
void check_moments(const std::vector<int64_t>& g, int g_exp, const ZimRuleParams& rule, int R,
                   std::vector<size_t> picked = {}) {
  const auto q = probabilities(g, g_exp, rule);
  const auto n = static_cast<double>(rule.n);
  const Draws d = draw_many(g, g_exp, rule, R, 11);
  if (picked.empty())
    for (size_t i = 0; i < g.size(); ++i) picked.push_back(i);
  // E X_i = n q_i, Var X_i = n q_i (1 - q_i): X_i ~ Binomial(n, q_i).
  for (size_t i : picked) {
    std::vector<double> y;
    for (const auto& x : d.x) y.push_back(x[i]);
    check_binomial(y, n, q[i], "X_i");
  }
  // Cov[X_i, X_j] = -n q_i q_j, checked through X_i + X_j ~ Binomial(n, q_i + q_j):
  // Var(X_i + X_j) = Var X_i + Var X_j + 2 Cov, so with the variances above
  // this is the covariance check.
  for (size_t a = 0; a < picked.size(); ++a)
    for (size_t b = a + 1; b < picked.size(); ++b) {
      const size_t i = picked[a], j = picked[b];
      std::vector<double> y;
      for (const auto& x : d.x) y.push_back(x[i] + x[j]);
      check_binomial(y, n, q[i] + q[j], "X_i + X_j (covariance)");
    }
  // E||X||^2 = n ||q||_1 + n (n - 1) ||q||_2^2, z-score with the sample
  // standard deviation of ||X||^2 (studentised; R large).
  double q1 = 0, q2 = 0;
  for (double p : q) q1 += p, q2 += p * p;
  std::vector<double> sq;
  for (const auto& x : d.x) {
    double s = 0;
    for (int32_t c : x) s += double(c) * c;
    sq.push_back(s);
  }
  const double expected = n * q1 + n * (n - 1) * q2;
  const double z = (mean_of(sq) - expected) / std::sqrt(var_of(sq) / static_cast<double>(R));
  CHECK_MESSAGE(std::fabs(z) < z_bound, "E||X||^2 " << mean_of(sq) << " vs " << expected << " z=" << z);
  // Sum of counts: exactly n without a zero category.
  for (const auto& x : d.x) {
    const int64_t sum = std::accumulate(x.begin(), x.end(), int64_t{0});
    if (rule.rule == ZimRule::authors || q1 > 1 - 1e-12)
      CHECK(sum == rule.n);
    else
      CHECK(sum <= rule.n);
  }
}

// Upper 1e-6 quantile of chi-square with k degrees of freedom (Wilson-Hilferty,
// z = 4.753), a false-failure probability of 1e-6.
double chi2_critical(double k) {
  const double z = 4.753, h = 2 / (9 * k);
  return k * std::pow(1 - h + z * std::sqrt(h), 3);
}

}  // namespace

TEST_CASE("philox_batch matches philox for every lane") {
  PhiloxBatch b;
  for (uint64_t first : {uint64_t{0}, uint64_t{5}, (uint64_t{1} << 32) - 3, uint64_t{123456789012345}}) {
    philox_batch(0x123456789abcdefull, Stream::sample, 0x100000007ull, first, b);
    for (int k = 0; k < philox_lanes; ++k) {
      const Block r = philox(0x123456789abcdefull, Stream::sample, 0x100000007ull, first + static_cast<uint64_t>(k));
      CHECK(b.x0[k] == r[0]);
      CHECK(b.x1[k] == r[1]);
      CHECK(b.x2[k] == r[2]);
      CHECK(b.x3[k] == r[3]);
    }
  }
}

TEST_CASE("every Philox path this CPU supports matches philox for every lane") {
  PhiloxWords words;
  for (PhiloxPath path : {PhiloxPath::scalar, PhiloxPath::avx2, PhiloxPath::avx512}) {
    if (!philox_path_supported(path)) continue;
    for (uint64_t first :
         {uint64_t{0}, uint64_t{5}, (uint64_t{1} << 32) - 3, uint64_t{123456789012345}, (uint64_t{1} << 53) + 7}) {
      for (uint64_t seed : {uint64_t{0}, uint64_t{0x123456789abcdefull}, ~uint64_t{0}}) {
        philox_words_on(path, seed, Stream::sample, 0x100000007ull, first, words);
        for (int k = 0; k < philox_lanes; ++k) {
          const Block r = philox(seed, Stream::sample, 0x100000007ull, first + static_cast<uint64_t>(k));
          CHECK(words[2 * static_cast<size_t>(k)] == lo64(r));
          CHECK(words[2 * static_cast<size_t>(k) + 1] == hi64(r));
        }
      }
    }
  }
  CHECK(philox_path_supported(best_philox_path()));
}

TEST_CASE("runs of 64 Philox blocks match philox on every path this CPU supports") {
  PhiloxRunWords words;
  for (PhiloxPath path : {PhiloxPath::scalar, PhiloxPath::avx2, PhiloxPath::avx512}) {
    if (!philox_path_supported(path)) continue;
    for (uint64_t first : {uint64_t{0}, uint64_t{5}, (uint64_t{1} << 32) - 37, (uint64_t{1} << 53) + 7}) {
      for (uint64_t seed : {uint64_t{0}, uint64_t{0x123456789abcdefull}, ~uint64_t{0}}) {
        philox_run_on(path, seed, Stream::sgd_round, 0x100000007ull, first, words);
        for (int k = 0; k < philox_run_blocks; ++k) {
          const Block r = philox(seed, Stream::sgd_round, 0x100000007ull, first + static_cast<uint64_t>(k));
          CHECK(words[2 * static_cast<size_t>(k)] == lo64(r));
          CHECK(words[2 * static_cast<size_t>(k) + 1] == hi64(r));
        }
      }
    }
  }
}

TEST_CASE("scale_gradients rounds half to even at every shift, as the exact reference") {
  // c = 1 dominates every |g| * 2^exp (< 2^-6), so the scale is fixed by c and
  // the gradient's shift is exp - scale_exp; values probe the rounding ties.
  for (int64_t exp : {-40, -56, -75, -100, -108, -109, -120}) {
    std::vector<int64_t> g;
    const int64_t probe_shift = exp + 47;  // scale_exp = 1 - budget = -47 for 32 <= d < 64 (most exps here)
    const int right = probe_shift < 0 ? static_cast<int>(std::min<int64_t>(-probe_shift, 62)) : 1;
    const uint64_t half = uint64_t{1} << (right - 1);
    for (uint64_t q : {0ull, 1ull, 2ull, 3ull, 12345ull})
      for (uint64_t rem : {uint64_t{0}, half - 1, half, half + 1, 2 * half - 1}) {
        const u128 a = (static_cast<u128>(q) << right) + rem;
        if (a >> std::min<int64_t>(62, -exp - 6) != 0) continue;  // |g| 2^exp < 2^-6, |g| < 2^62
        g.push_back(static_cast<int64_t>(a));
        g.push_back(-static_cast<int64_t>(a));
      }
    g.push_back(0);
    ScaledGradient out;
    const GradientSlice slice{g.data(), g.size(), exp};
    scale_gradients(std::span<const GradientSlice>(&slice, 1), q32_one, q32_one, out);
    uint64_t sum = 0;
    for (size_t i = 0; i < g.size(); ++i) {
      const u128 a = abs_u64(g[i]);
      const int64_t shift = exp - out.scale_exp;
      u128 expected = a;
      if (shift >= 0)
        expected = a << shift;
      else if (-shift >= 128)
        expected = 0;
      else {
        const int r = static_cast<int>(-shift);
        const u128 q = a >> r, rem = a - (q << r), h = static_cast<u128>(1) << (r - 1);
        expected = q + ((rem > h || (rem == h && (q & 1))) ? 1 : 0);
      }
      CHECK_MESSAGE(out.magnitude[i] == static_cast<uint64_t>(expected), "exp " << exp << " g " << g[i]);
      CHECK(out.sign[i] == (g[i] > 0) - (g[i] < 0));
      sum += out.magnitude[i];
    }
    CHECK(out.magnitude_sum == sum);
  }
}

TEST_CASE("scale_gradients with a factor that is no power of two rounds half to even, as the exact reference") {
  // The zero-inflated rule's alpha: magnitude = round-half-even(|g| alpha 2^exp / 2^scale_exp).
  std::vector<int64_t> g{0, 1, -2, 3, 1000003, -(int64_t{1} << 40), 77777777777, -5, 6};
  for (q32 factor : {q32_one * 3 / 4, q32_one * 5 + 3, q32_one / 3, q32{1}}) {
    for (int64_t exp : {-20, 0, 7}) {
      ScaledGradient out;
      const GradientSlice slice{g.data(), g.size(), exp};
      scale_gradients(std::span<const GradientSlice>(&slice, 1), factor, 0, out);
      for (size_t i = 0; i < g.size(); ++i) {
        const u128 a = static_cast<u128>(abs_u64(g[i])) * static_cast<uint64_t>(factor);
        const int64_t shift = exp - 32 - out.scale_exp;
        u128 expected = a;
        if (shift >= 0) {
          expected = a << shift;
        } else {
          const int r = static_cast<int>(-shift);
          const u128 q = a >> r, rem = a - (q << r), h = static_cast<u128>(1) << (r - 1);
          expected = q + ((rem > h || (rem == h && (q & 1))) ? 1 : 0);
        }
        CHECK_MESSAGE(out.magnitude[i] == static_cast<uint64_t>(expected), "factor " << factor << " g " << g[i]);
      }
    }
  }
}

TEST_CASE("scale_gradients on demand: the stored scale and block sums, and scaled_entries gives the stored entries") {
  // Four slices with other exponents, boundaries inside blocks, one empty;
  // factors folded into the shift (1) and not (alpha = 100.25); nothing
  // stored, or the signs alone.
  const size_t d = 3 * category_block + 50;
  std::vector<int64_t> g(d);
  for (size_t i = 0; i < d; ++i) {
    const Block b = philox(3, Stream::test_data, 0, i);
    const uint64_t r = (uint64_t{b[1]} << 32) | b[2];  // magnitudes of 23 to 63 bits
    g[i] = b[0] % 5 == 0 ? 0 : static_cast<int64_t>(r >> (1 + b[3] % 41)) * ((b[3] & 64) ? 1 : -1);
  }
  const size_t cut1 = 1000, cut2 = category_block + 7, cut3 = cut2;
  const std::vector<GradientSlice> slices{{g.data(), cut1, -30},
                                          {g.data() + cut1, cut2 - cut1, -33},
                                          {g.data() + cut2, cut3 - cut2, 5},
                                          {g.data() + cut3, d - cut3, -29}};
  for (q32 factor : {q32_one, q32_one * 100 + q32_one / 4})
    for (ScaledEntries mode : {ScaledEntries::on_demand, ScaledEntries::signs}) {
      CAPTURE(factor);
      CAPTURE(static_cast<int>(mode));
      ScaledGradient stored, on_demand;
      scale_gradients(slices, factor, q32_one * 7, stored);
      scale_gradients(slices, factor, q32_one * 7, on_demand, mode);
      CHECK(on_demand.magnitude.empty());
      if (mode == ScaledEntries::signs)
        CHECK(on_demand.sign == stored.sign);
      else
        CHECK(on_demand.sign.empty());
      CHECK(on_demand.block_sum == stored.block_sum);
      CHECK(on_demand.magnitude_sum == stored.magnitude_sum);
      CHECK(on_demand.constant == stored.constant);
      CHECK(on_demand.scale_exp == stored.scale_exp);
      for (size_t begin : {size_t{0}, size_t{990}, category_block, 2 * category_block + 3, d - 1}) {
        const size_t size = std::min(category_block, d - begin);
        std::vector<uint64_t> magnitude(size);
        std::vector<int8_t> sign(size);
        const uint64_t sum = scaled_entries(slices, on_demand, begin, size, magnitude.data(), sign.data());
        CAPTURE(begin);
        CHECK(std::equal(magnitude.begin(), magnitude.end(),
                         stored.magnitude.begin() + static_cast<std::ptrdiff_t>(begin)));
        CHECK(std::equal(sign.begin(), sign.end(), stored.sign.begin() + static_cast<std::ptrdiff_t>(begin)));
        CHECK(sum == std::accumulate(magnitude.begin(), magnitude.end(), uint64_t{0}));
      }
    }
}

TEST_CASE(
    "scale_gradients on demand, reused from step to step: the last step's scale kept or changed, the stored sums") {
  // On demand the block sums are first formed on the previous call's scale
  // (common_scale.cpp): every call must still equal a fresh stored one, when
  // the scale stays, moves by one, or moves far (exponents 200 apart: the
  // guessed shifts then leave 64 and 128 bits).
  const size_t d = 2 * category_block + 333;
  std::vector<int64_t> g(d);
  for (size_t i = 0; i < d; ++i) {
    const Block b = philox(5, Stream::test_data, 0, i);
    g[i] = b[0] % 4 == 0 ? 0 : static_cast<int64_t>(b[1] >> (b[2] % 20)) * ((b[3] & 1) ? 1 : -1);
  }
  // The same gradient with smaller values (a stale largest |g_i| would keep
  // the scale), and one with its second slice all zero.
  std::vector<int64_t> small(d), half_zero(d, 0);
  for (size_t i = 0; i < d; ++i) small[i] = g[i] / 4096;
  std::copy(g.begin(), g.begin() + category_block, half_zero.begin());
  const size_t cut = category_block + 100;
  for (q32 factor : {q32_one, q32_one * 100 + q32_one / 4})
    for (ScaledEntries mode : {ScaledEntries::on_demand, ScaledEntries::signs}) {
      CAPTURE(factor);
      CAPTURE(static_cast<int>(mode));
      ScaledGradient reused;
      for (const auto& [values, shift] : std::vector<std::pair<const std::vector<int64_t>*, int64_t>>{
               {&g, 0}, {&g, 0}, {&g, 1}, {&small, 1}, {&g, 1}, {&g, 200}, {&half_zero, -200}, {&small, 0}, {&g, 0}}) {
        const std::vector<GradientSlice> slices{{values->data(), cut, -40 + shift},
                                                {values->data() + cut, d - cut, -41 + shift}};
        ScaledGradient stored;  // constant 2^-30: below every slice's largest term, so those set the scale
        scale_gradients(slices, factor, 4, stored);
        scale_gradients(slices, factor, 4, reused, mode);
        CHECK(reused.scale_exp == stored.scale_exp);
        if (mode == ScaledEntries::signs) CHECK(reused.sign == stored.sign);
        CHECK(reused.block_sum == stored.block_sum);
        CHECK(reused.magnitude_sum == stored.magnitude_sum);
        CHECK(reused.constant == stored.constant);
      }
    }
}

TEST_CASE("authors' rule: moments of Multinomial(n, (|g| + c) / (||g||_1 + d c))") {
  // Real gradient 0.5, -1.5, 0, 3, -0.25 (exp -2), c = 1: visibly non-uniform.
  check_moments({2, -6, 0, 12, -1}, -2, {ZimRule::authors, 40, q32_one, q32_one}, 4000);
  // c = 0.25 and a spread of magnitudes.
  check_moments({1, -30, 7, 0, 100, -3}, 0, {ZimRule::authors, 25, q32_one / 4, q32_one}, 4000);
}

TEST_CASE("zero-inflated rule: moments of ZIMultinomial(n, alpha |g| / n) and E[U] = alpha g") {
  const std::vector<int64_t> g{3, -5, 0, 8, -1, 2};                            // real = g / 2, ||g||_1 = 9.5
  const ZimRuleParams rule{ZimRule::zero_inflated, 30, q32_one, q32_one * 2};  // alpha ||g||_1 = 19 <= 30
  check_moments(g, -1, rule, 4000);
  // E[U_i] = alpha g_i, U_i = sign(g_i) X_i with Var U_i = n q_i (1 - q_i).
  const Draws d = draw_many(g, -1, rule, 4000, 12);
  const auto q = probabilities(g, -1, rule);
  for (size_t i = 0; i < g.size(); ++i) {
    double mean = 0;
    for (const auto& x : d.x) mean += double(x[i]) * d.sign[i];
    mean /= static_cast<double>(d.x.size());
    const double expected = 2.0 * static_cast<double>(g[i]) / 2;
    const double se = std::sqrt(30 * q[i] * (1 - q[i]) / static_cast<double>(d.x.size()));
    if (se == 0)
      CHECK(mean == expected);
    else
      CHECK_MESSAGE(std::fabs(mean - expected) / se < z_bound, "E[U_" << i << "] " << mean << " vs " << expected);
  }
}

TEST_CASE("zero-inflated rule, zero category of 1 - 2^-9 or more (stage 1 by runs): moments of ZIMultinomial") {
  // alpha ||g||_1 = 19 trials expected outside the zero category of n: runs
  // of 2^6 trials at n = 20,000 and of 2^8 at n = 2,000,000 (zim.hpp).
  const std::vector<int64_t> g{3, -5, 0, 8, -1, 2};  // real = g / 2, ||g||_1 = 9.5
  for (int64_t n : {int64_t{20000}, int64_t{2000000}}) {
    CAPTURE(n);
    const ZimRuleParams rule{ZimRule::zero_inflated, n, q32_one, q32_one * 2};
    CHECK(19.0 / static_cast<double>(n) <= 1.0 / 512);  // the case exercises what it names
    check_moments(g, -1, rule, 4000);
  }
}

TEST_CASE("zero-inflated rule falls back to Multinomial(n, |g| / ||g||_1) when alpha ||g||_1 > n") {
  const std::vector<int64_t> g{3, -5, 0, 8};
  ZimWorkspace ws;
  std::vector<int32_t> counts(g.size());
  const ZimDraw inside = zim_sample(g, 0, {ZimRule::zero_inflated, 16, q32_one, q32_one}, {1, 0, 0}, counts, ws);
  CHECK(!inside.fallback);  // alpha ||g||_1 = 16 = n: the zero category is empty but valid
  const ZimDraw over = zim_sample(g, 0, {ZimRule::zero_inflated, 15, q32_one, q32_one}, {1, 0, 0}, counts, ws);
  CHECK(over.fallback);
  CHECK(std::accumulate(counts.begin(), counts.end(), 0) == 15);
  check_moments(g, 0, {ZimRule::zero_inflated, 15, q32_one, q32_one}, 4000);
}

TEST_CASE("chi-square goodness of fit of one large draw") {
  // d = 10 categories with weights 1..10 (+ c = 0.5), n = 200,000 trials
  // (parallel path); statistic ~ chi2(d - 1) under the null.
  std::vector<int64_t> g{1, -2, 3, -4, 5, -6, 7, -8, 9, -10};
  for (ZimRule rule : {ZimRule::authors, ZimRule::zero_inflated}) {
    const ZimRuleParams params{rule, 200000, q32_one / 2, q32_one * 4000};  // ZI: alpha ||g||_1 = 220,000 > n: fallback
    const auto q = probabilities(g, 0, params);
    ZimWorkspace ws;
    std::vector<int32_t> counts(g.size());
    zim_sample(g, 0, params, {99, 3, 0}, counts, ws);
    double chi2 = 0;
    for (size_t i = 0; i < g.size(); ++i) {
      const double e = 200000 * q[i];
      chi2 += (counts[i] - e) * (counts[i] - e) / e;
    }
    CHECK_MESSAGE(chi2 < chi2_critical(9), "chi2 = " << chi2 << " critical " << chi2_critical(9));
  }
  // Zero-inflated with a real zero category: d + 1 categories, d dof.
  const ZimRuleParams zi{ZimRule::zero_inflated, 200000, q32_one, q32_one * 2000};  // alpha ||g||_1 = 110,000
  const auto q = probabilities(g, 0, zi);
  ZimWorkspace ws;
  std::vector<int32_t> counts(g.size());
  zim_sample(g, 0, zi, {99, 4, 0}, counts, ws);
  double chi2 = 0, q_sum = 0, in_categories = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    const double e = 200000 * q[i];
    chi2 += (counts[i] - e) * (counts[i] - e) / e;
    q_sum += q[i];
    in_categories += counts[i];
  }
  const double e0 = 200000 * (1 - q_sum), o0 = 200000 - in_categories;
  chi2 += (o0 - e0) * (o0 - e0) / e0;
  CHECK_MESSAGE(chi2 < chi2_critical(10), "chi2 = " << chi2);
}

TEST_CASE("moments across category blocks: entries at block edges, in a zero block and in the last, short block") {
  // d = 3 blocks of 4096 + 7 entries; block 1 all zero (authors: uniform part
  // only), block 0 light, block 2 heavy, the short last block mixed.
  std::vector<int64_t> g(3 * category_block + 7, 0);
  for (size_t i = 0; i < category_block; i += 3) g[i] = (i % 2) ? 1 : -2;
  for (size_t i = 2 * category_block; i < g.size(); ++i) g[i] = (i % 5 == 0) ? 0 : static_cast<int64_t>(i % 97) - 40;
  const std::vector<size_t> picked{0, 3, 4095, 4096, 8191, 8192, 8195, 12290, 12291, 12294};
  check_moments(g, 0, {ZimRule::authors, 3000, q32_one * 4, q32_one}, 4000, picked);
  // Zero-inflated: alpha ||g||_1 ~ 0.4 n, so the zero category takes ~60 %.
  check_moments(g, 0, {ZimRule::zero_inflated, 3000, q32_one, q32_one / 64}, 4000, picked);
}

TEST_CASE("chi-square per category over several blocks, and the test rejects a shifted distribution") {
  // d = 10,000 (three blocks, the last short), weights alternating 1 : 30 so
  // that an off-by-one category (a search error) changes every probability.
  std::vector<int64_t> g(10000);
  for (size_t i = 0; i < g.size(); ++i) g[i] = int64_t{i % 2 ? 30 : 1} * ((i % 3) ? 1 : -1);
  g[9999] = 0;
  for (ZimRule rule : {ZimRule::authors, ZimRule::zero_inflated}) {
    constexpr int64_t n = 4000000;
    const ZimRuleParams params{rule, n, q32_one * 2, q32_one * 20};  // ZI: alpha ||g||_1 = 3.1 M < n
    const auto q = probabilities(g, 0, params);
    ZimWorkspace ws;
    std::vector<int32_t> counts(g.size());
    zim_sample(g, 0, params, {5, 2, 0}, counts, ws);
    // Categories with expectation >= 5 (all but the authors' zero-gradient
    // one under zero-inflation, which must stay 0), plus the zero category.
    auto chi2_against = [&](const std::vector<double>& p, double& dof) {
      double chi2 = 0, p_sum = 0, landed = 0;
      dof = 0;
      for (size_t i = 0; i < g.size(); ++i) {
        landed += counts[i];
        p_sum += p[i];
        const double e = n * p[i];
        if (e == 0) continue;
        chi2 += (counts[i] - e) * (counts[i] - e) / e;
        dof += 1;
      }
      const double e0 = n * (1 - p_sum), o0 = n - landed;
      if (e0 > 1) {
        chi2 += (o0 - e0) * (o0 - e0) / e0;
        dof += 1;
      }
      dof -= 1;
      return chi2;
    };
    double dof = 0;
    const double chi2 = chi2_against(q, dof);
    CHECK_MESSAGE(chi2 < chi2_critical(dof), "chi2 = " << chi2 << " dof " << dof);
    if (rule == ZimRule::zero_inflated) CHECK(counts[9999] == 0);
    // The same statistic against the distribution shifted by one category.
    std::vector<double> shifted(q.size());
    for (size_t i = 0; i < q.size(); ++i) shifted[i] = q[(i + 1) % q.size()];
    double shifted_dof = 0;
    const double wrong = chi2_against(shifted, shifted_dof);
    CHECK_MESSAGE(wrong > chi2_critical(shifted_dof), "shifted chi2 = " << wrong);
  }
}

TEST_CASE("draws are bit-identical at 1, 2, 3, 4 and 8 threads and on every Philox path; seeds and steps change them") {
  // d = 50,000 in three slices whose boundaries fall inside category blocks.
  std::vector<int64_t> g(50000);
  for (size_t i = 0; i < g.size(); ++i) g[i] = (i % 7 == 0) ? 0 : static_cast<int64_t>((i * 2654435761u) % 1000) - 500;
  const std::vector<GradientSlice> slices{
      {g.data(), 5000, -8}, {g.data() + 5000, 30001, -9}, {g.data() + 35001, 14999, -8}};
  auto run = [&](int threads, uint64_t seed, uint64_t step, ZimRule rule, PhiloxPath path) {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(threads));
    ZimWorkspace ws;
    ws.sampler.use_philox_path(path);
    std::vector<int32_t> counts(g.size());
    zim_sample(slices, {rule, 300000, q32_one, q32_one * 2}, {seed, step, 0}, counts, ws);
    return counts;
  };
  for (ZimRule rule : {ZimRule::authors, ZimRule::zero_inflated}) {
    const auto one = run(1, 5, 9, rule, PhiloxPath::scalar);
    CHECK(std::accumulate(one.begin(), one.end(), int64_t{0}) > 0);
    for (PhiloxPath path : {PhiloxPath::scalar, PhiloxPath::avx2, PhiloxPath::avx512}) {
      if (!philox_path_supported(path)) continue;
      for (int threads : {1, 2, 3, 4, 8}) CHECK(run(threads, 5, 9, rule, path) == one);
    }
    CHECK(run(2, 6, 9, rule, best_philox_path()) != one);
    CHECK(run(2, 5, 10, rule, best_philox_path()) != one);
  }
}

TEST_CASE("a draw handed to a sink block by block: each block once, the counts of the draw into d counts") {
  // Three slices whose boundaries fall inside blocks; the zero-inflated
  // draw leaves blocks without trials (their gradient is 0), which come
  // without counts.
  std::vector<int64_t> g(5 * category_block + 77);
  for (size_t i = 0; i < g.size(); ++i)
    g[i] = i / category_block == 2 ? 0 : static_cast<int64_t>((i * 2654435761u) % 1000) - 500;
  const std::vector<GradientSlice> slices{
      {g.data(), 5000, -8}, {g.data() + 5000, 9001, -9}, {g.data() + 14001, g.size() - 14001, -8}};
  for (ZimRule rule : {ZimRule::authors, ZimRule::zero_inflated}) {
    CAPTURE(static_cast<int>(rule));
    for (int64_t n : {int64_t{0}, int64_t{40000}}) {
      CAPTURE(n);
      const ZimRuleParams params{rule, n, q32_one, q32_one * 2};
      ZimWorkspace whole_ws;
      std::vector<int32_t> whole(g.size());
      zim_sample(slices, params, {5, 9, 0}, whole, whole_ws);
      const std::vector<uint32_t> drew(whole_ws.sampler.block_trials().begin(), whole_ws.sampler.block_trials().end());
      for (PhiloxPath path : {PhiloxPath::scalar, PhiloxPath::avx2, PhiloxPath::avx512}) {
        if (!philox_path_supported(path)) continue;
        for (int threads : {1, 2, 3}) {
          CAPTURE(threads);
          tbb::global_control limit(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(threads));
          ZimWorkspace ws;
          ws.sampler.use_philox_path(path);
          test::RecordBlocks sink(g.size());
          zim_sample(slices, params, {5, 9, 0}, sink, ws);
          CHECK(sink.counts == whole);
          for (size_t b = 0; b < drew.size(); ++b) {
            CHECK(sink.calls[b] == 1);
            CHECK(sink.without[b] == (drew[b] == 0));
            CHECK(sink.misplaced[b] == 0);
          }
        }
      }
      if (n > 0 && rule == ZimRule::zero_inflated) CHECK(drew[2] == 0);
      if (n > 0) CHECK(std::accumulate(drew.begin(), drew.end(), uint64_t{0}) > 0);
    }
  }
}

TEST_CASE("a sampler reused across steps and sizes draws what a fresh one draws") {
  std::vector<int64_t> big(20000), small(5000);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<int64_t>(i % 11) - 5;
  for (size_t i = 0; i < small.size(); ++i) small[i] = static_cast<int64_t>(i % 3) - 1;
  auto fresh = [](const std::vector<int64_t>& g, uint64_t step) {
    ZimWorkspace ws;
    std::vector<int32_t> counts(g.size());
    zim_sample(g, -2, {ZimRule::authors, 70000}, {8, step, 0}, counts, ws);
    return counts;
  };
  ZimWorkspace ws;
  for (uint64_t step = 0; step < 4; ++step) {
    const auto& g = step % 2 ? small : big;
    std::vector<int32_t> counts(g.size(), 9);
    zim_sample(g, -2, {ZimRule::authors, 70000}, {8, step, 0}, counts, ws);
    CHECK(counts == fresh(g, step));
  }
}

TEST_CASE("large d: every trial counted, bit-identical at 1, 2 and 3 threads") {
  // 257 blocks, 1 % of the entries nonzero, so trials go through both the
  // uniform and the magnitude part of their blocks.
  std::vector<int64_t> g((size_t{1} << 20) + 3);
  for (size_t i = 0; i < g.size(); i += 97) g[i] = static_cast<int64_t>(i % 13) - 6;
  auto run = [&](int threads) {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(threads));
    ZimWorkspace ws;
    std::vector<int32_t> counts(g.size());
    zim_sample(g, -4, {ZimRule::authors, 300001, q32_one, q32_one}, {3, 1, 0}, counts, ws);
    return counts;
  };
  const auto one = run(1);
  CHECK(std::accumulate(one.begin(), one.end(), int64_t{0}) == 300001);
  CHECK(run(2) == one);
  CHECK(run(3) == one);
}

TEST_CASE("degenerate inputs") {
  ZimWorkspace ws;
  SUBCASE("n = 0: no counts") {
    std::vector<int32_t> counts(3, 7);
    zim_sample(std::vector<int64_t>{1, 2, 3}, 0, {ZimRule::authors, 0}, {1, 0, 0}, counts, ws);
    CHECK(counts == std::vector<int32_t>{0, 0, 0});
  }
  SUBCASE("all-zero gradient: authors spreads n trials uniformly, U = 0; zero-inflated draws nothing") {
    std::vector<int64_t> g(5, 0);
    std::vector<int32_t> counts(5);
    zim_sample(g, 0, {ZimRule::authors, 1000}, {1, 0, 0}, counts, ws);
    CHECK(std::accumulate(counts.begin(), counts.end(), 0) == 1000);
    for (int8_t s : ws.scaled.sign) CHECK(s == 0);
    zim_sample(g, 0, {ZimRule::zero_inflated, 1000}, {1, 0, 0}, counts, ws);
    CHECK(counts == std::vector<int32_t>(5, 0));
  }
  SUBCASE("d = 1: every trial lands on the one parameter") {
    std::vector<int32_t> counts(1);
    zim_sample(std::vector<int64_t>{-4}, 0, {ZimRule::authors, 77}, {1, 0, 0}, counts, ws);
    CHECK(counts[0] == 77);
    CHECK(ws.scaled.sign[0] == -1);
  }
  SUBCASE("d = 0 and c = 0 with g = 0: nothing to draw") {
    std::vector<int32_t> none;
    zim_sample(std::vector<int64_t>{}, 0, {ZimRule::authors, 10}, {1, 0, 0}, none, ws);
    std::vector<int32_t> counts(2, 3);
    zim_sample(std::vector<int64_t>{0, 0}, 0, {ZimRule::authors, 10, 0}, {1, 0, 0}, counts, ws);
    CHECK(counts == std::vector<int32_t>{0, 0});
  }
  SUBCASE("one huge entry takes every trial; tiny ones keep their exact sign") {
    std::vector<int64_t> g{3, std::numeric_limits<int64_t>::min(), -1, 0, 5};
    std::vector<int32_t> counts(g.size());
    zim_sample(g, 0, {ZimRule::authors, 5000}, {1, 0, 0}, counts, ws);
    CHECK(counts[1] == 5000);  // p_1 = 2^63 / (2^63 + 9 + 5): others expect < 1e-14 trials
    CHECK(ws.scaled.sign == std::vector<int8_t>{1, -1, -1, 0, 1});
    CHECK(ws.scaled.magnitude[0] == 0);  // rounded away, sign kept
  }
  SUBCASE("gradients near the int64 limit: sums stay exact, draws fair") {
    std::vector<int64_t> g(1000);
    for (size_t i = 0; i < g.size(); ++i)
      g[i] = (i % 2 ? 1 : -1) * (std::numeric_limits<int64_t>::max() - static_cast<int64_t>(i));
    std::vector<int32_t> counts(g.size());
    for (int e : {-1000, 0, 1000}) {
      zim_sample(g, e, {ZimRule::authors, 100000}, {1, 0, 0}, counts, ws);
      CHECK(std::accumulate(counts.begin(), counts.end(), int64_t{0}) == 100000);
      // Nearly equal magnitudes: each count ~ Binomial(1e5, 1e-3), sd ~ 10.
      for (int32_t c : counts) CHECK(std::abs(c - 100) < 100);
      CHECK(ws.scaled.magnitude_sum < (uint64_t{1} << 55));
    }
  }
  SUBCASE("tiny nonzero gradients next to a large one still move under c = 1") {
    // Real gradients 2^-300 next to 1.0: magnitude 0 on the common scale, sign kept.
    std::vector<int64_t> g{1, 1, 0, -1};
    std::vector<int32_t> counts(4);
    std::vector<GradientSlice> slices{{g.data(), 1, 0}, {g.data() + 1, 3, -300}};
    zim_sample(slices, {ZimRule::authors, 4000}, {1, 0, 0}, counts, ws);
    CHECK(ws.scaled.sign == std::vector<int8_t>{1, 1, 0, -1});
    CHECK(counts[1] > 0);  // p = 1 / 5 each: ~800 trials
    CHECK(counts[3] > 0);
  }
}
