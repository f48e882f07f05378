// Parameter-free LayerNorm: integer forward/backward vs the float reference,
// the float reference vs finite differences, zero variance, thread
// equality, and a peaked sample (docs/design.md, Rounding; exponent rules
// measured).
#include "zimt/layers/layernorm.hpp"

#include <doctest/doctest.h>
#include <tbb/global_control.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>

#include "float_model.hpp"
#include "zimt/layers/linear.hpp"

using namespace zimt;
using ref::Owned;
using ref::Vec;

namespace {

// Error bounds in units of the output step:
//  forward: one rounding that keeps the sign (quant.hpp: 0.5 step, or up to
//  1 - |ŷ|/step for |ŷ| below half a step, kept at ±1) + the error of the
//  exact-but-finite intermediates: ŷ in Q20 (<= 2^-21) and 1/sqrt(D') to 30
//  bits (relative 2^-30, so <= 2^-20 for |ŷ| <= 2^10). A step is at least
//  max|ŷ|/127, so those add < 2^-19·127 < 1/2^12 steps: bound
//  max(0.5, 1 - |ŷ|/step) + 1/4096.
//  backward: 0.5 (int16 requantisation) + Q20/30-bit errors, relative
//  ~2^-19 of the terms, against a step of max|dx|/32767 (2^-15 relative):
//  < 1/16 step while the terms are not much larger than dx itself (random
//  dy; no contrived cancellation). Bound 0.5 + 1/16.
constexpr double kForwardExtraSteps = 1.0 / 4096;
constexpr double kBackwardSteps = 0.5 + 1.0 / 16;

void check_against_reference(Shape shape, std::mt19937_64& rng, int exp_lo, int exp_hi) {
  const int64_t N = shape[0], M = shape.sample_numel();
  Owned<int8_t> x = ref::random_act(shape, rng, exp_lo, exp_hi);
  Owned<int8_t> y(shape);
  auto yv = y.view();
  CHECK(layernorm_forward(yv, x.view()) == 0);
  const Vec yr = ref::layernorm_forward(ref::real(x.view()), N, M);
  const Vec step = ref::steps(y.view());
  Vec bound = ref::error_signal_bounds(yr, step);
  for (size_t i = 0; i < bound.size(); ++i) bound[i] += kForwardExtraSteps * step[i];
  CHECK(ref::max_ratio(ref::real(y.view()), yr, bound) <= 1);

  Owned<int16_t> dy = ref::random_err(shape, rng);
  Owned<int16_t> dx(shape);
  auto dxv = dx.view();
  layernorm_backward(dxv, dy.view(), x.view());
  const Vec dxr = ref::layernorm_backward(ref::real(dy.view()), ref::real(x.view()), N, M);
  CHECK(ref::max_error_in_steps(ref::real(dx.view()), dxr, ref::steps(dx.view())) <= kBackwardSteps);
  const auto s = ref::sign_stats(ref::real(dx.view()), dxr);
  CHECK(s.spurious == 0);
}

}  // namespace

TEST_CASE("layernorm float reference agrees with finite differences") {
  std::mt19937_64 rng(7);
  std::normal_distribution<double> g(0.0, 1.0);
  const int64_t N = 2, M = 13;
  Vec x(N * M), w(N * M);
  for (auto& v : x) v = g(rng);
  for (auto& v : w) v = g(rng);
  // f(x) = Σ w · LN(x): its gradient is layernorm_backward(w, x).
  const auto f = [&](const Vec& xx) {
    const Vec y = ref::layernorm_forward(xx, N, M);
    double s = 0;
    for (size_t i = 0; i < y.size(); ++i) s += w[i] * y[i];
    return s;
  };
  CHECK(ref::gradient_check(f, x, ref::layernorm_backward(w, x, N, M), 1e-5) < 1e-6);
}

TEST_CASE("layernorm forward and backward match the float reference") {
  std::mt19937_64 rng(11);
  for (Shape s :
       {Shape{1, 1, 1, 1}, Shape{1, 3, 5, 7}, Shape{4, 8, 6, 6}, Shape{3, 10}, Shape{2, 128}, Shape{5, 32, 14, 14}}) {
    CAPTURE(s[0]);
    CAPTURE(s.sample_numel());
    if (s.sample_numel() == 1) continue;  // one value: LN is identically 0 (tested below)
    check_against_reference(s, rng, -6, 3);
  }
  // Exponents far from 0 in both directions (eps matters only at tiny scales).
  check_against_reference(Shape{3, 4, 5, 5}, rng, 20, 30);
  check_against_reference(Shape{3, 4, 5, 5}, rng, -12, -10);
}

TEST_CASE("layernorm of a constant sample: eps keeps it finite and exact") {
  // A constant sample has zero variance: y = 0 exactly, and the backward is
  // (dy - mean(dy)) / sqrt(eps), as PyTorch with eps = 1e-5.
  for (int value : {0, 5, -127}) {
    for (int e : {-30, -8, 0, 12, 200, -200}) {
      CAPTURE(value);
      CAPTURE(e);
      Owned<int8_t> x(Shape{2, 3, 4, 4});
      std::fill(x.data.begin(), x.data.end(), static_cast<int8_t>(value));
      std::fill(x.exp.begin(), x.exp.end(), e);
      Owned<int8_t> y(x.shape);
      auto yv = y.view();
      layernorm_forward(yv, x.view());
      CHECK(std::all_of(y.data.begin(), y.data.end(), [](int8_t v) { return v == 0; }));

      std::mt19937_64 rng(3);
      Owned<int16_t> dy = ref::random_err(x.shape, rng);
      Owned<int16_t> dx(x.shape);
      auto dxv = dx.view();
      layernorm_backward(dxv, dy.view(), x.view());
      const Vec dxr = ref::layernorm_backward(ref::real(dy.view()), ref::real(x.view()), 2, 48);
      CHECK(ref::max_error_in_steps(ref::real(dx.view()), dxr, ref::steps(dx.view())) <= kBackwardSteps);

      // A zero error signal stays exactly zero.
      Owned<int16_t> zero(x.shape);
      layernorm_backward(dxv, zero.view(), x.view());
      CHECK(std::all_of(dx.data.begin(), dx.data.end(), [](int16_t v) { return v == 0; }));
    }
  }
}

TEST_CASE("layernorm is bit-identical at 1, 2 and 4 threads") {
  std::mt19937_64 rng(5);
  const Shape s{9, 6, 7, 7};
  Owned<int8_t> x = ref::random_act(s, rng, -4, 4);
  Owned<int16_t> dy = ref::random_err(s, rng);
  std::vector<std::vector<int8_t>> ys;
  std::vector<std::vector<int16_t>> dxs;
  std::vector<std::vector<int32_t>> exps;
  for (int threads : {1, 2, 4}) {
    tbb::global_control c(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(threads));
    Owned<int8_t> y(s);
    Owned<int16_t> dx(s);
    auto yv = y.view();
    auto dxv = dx.view();
    layernorm_forward(yv, x.view());
    layernorm_backward(dxv, dy.view(), x.view());
    ys.push_back(y.data);
    dxs.push_back(dx.data);
    std::vector<int32_t> e = y.exp;
    e.insert(e.end(), dx.exp.begin(), dx.exp.end());
    exps.push_back(e);
  }
  CHECK(ys[0] == ys[1]);
  CHECK(ys[0] == ys[2]);
  CHECK(dxs[0] == dxs[1]);
  CHECK(dxs[0] == dxs[2]);
  CHECK(exps[0] == exps[1]);
  CHECK(exps[0] == exps[2]);
}

TEST_CASE("peaked sample: exponent rules measured") {
  // Samples like the second LayerNorm's input under the sparse start: 93 %
  // zeros, a few small values and six large ones per sample (64x7x7), so the
  // LN output has max ≈ 23 and a bulk at ≈ -0.07..-0.09.
  const int64_t N = 8, C = 64, M = C * 7 * 7, O = 10;
  const Shape s{N, C, 7, 7};
  Owned<int8_t> x(s);
  std::mt19937_64 rng(1);
  for (int64_t n = 0; n < N; ++n) {
    std::vector<int64_t> idx(static_cast<size_t>(M));
    for (int64_t i = 0; i < M; ++i) idx[static_cast<size_t>(i)] = i;
    std::shuffle(idx.begin(), idx.end(), rng);
    for (int k = 0; k < 214; ++k) x.data[static_cast<size_t>(n * M + idx[static_cast<size_t>(k)])] = int8_t(1 + k % 6);
    for (int k = 214; k < 220; ++k) x.data[static_cast<size_t>(n * M + idx[static_cast<size_t>(k)])] = 127;
  }
  const Vec yr = ref::layernorm_forward(ref::real(x.view()), N, M);
  const double ymax = *std::max_element(yr.begin(), yr.end());
  MESSAGE("float LN output: max " << ymax << ", bulk " << yr[0] << " (x[0] = " << int(x.data[0]) << ")");
  CHECK(ymax > 20);

  // What follows the LN: a linear layer (flattened) whose weight gradient
  // dW = Σ_n dyᵀ x needs x; dy is a random int16 error.
  ParamSet p;
  LinearSpec lin{M, O, p.add("fc.weight", {O, M}, ParamKind::weight), false, 0};
  Owned<int16_t> dy = ref::random_err(Shape{N, O}, rng);
  Vec dw_ref, dx_unused, db_unused;
  ref::linear_backward(dx_unused, dw_ref, db_unused, ref::real(dy.view()), yr, ref::real_weights(p, lin.weight), N, M,
                       O);

  struct Row {
    const char* rule;
    double nonzero, cos_fwd, flushed, saturated;
  };
  std::vector<Row> rows;
  const auto measure = [&](const char* rule, const Owned<int8_t>& y, int64_t saturated) {
    const Vec yi = ref::real(y.view());
    double nz = 0;
    for (int8_t v : y.data) nz += v != 0 ? 1 : 0;
    Act flat{const_cast<int8_t*>(y.data.data()), const_cast<int32_t*>(y.exp.data()), Shape{N, M}};
    linear_backward(nullptr, dy.view(), flat, p, lin);
    const auto st = ref::sign_stats(ref::real_grads(p, lin.weight), dw_ref);
    rows.push_back({rule, nz / double(N * M), ref::cosine(yi, yr), st.flushed, double(saturated) / double(N * M)});
  };
  // Per-sample exponents (least squared error, layernorm.hpp) without and with caps.
  for (int cap : {100, -2, -3, -4}) {
    Owned<int8_t> y(s);
    auto yv = y.view();
    const int64_t sat = layernorm_forward(yv, x.view(), LayerNormSpec{cap});
    measure(cap == 100  ? "per-sample, no cap"
            : cap == -2 ? "cap step<=1/4"
            : cap == -3 ? "cap step<=1/8 (default)"
                        : "cap step<=1/16",
            y, sat);
  }
  // Per-tensor exponent from the batch maximum (what a float simulation
  // with per-tensor scales uses): the per-sample max-rule output re-rounded to the
  // largest exponent of the batch.
  {
    Owned<int8_t> y(s);
    auto yv = y.view();
    layernorm_forward(yv, x.view(), LayerNormSpec{100});
    const int32_t e = *std::max_element(y.exp.begin(), y.exp.end());
    for (int64_t n = 0; n < N; ++n) {
      for (int64_t i = 0; i < M; ++i) {
        int8_t& v = y.data[static_cast<size_t>(n * M + i)];
        v = static_cast<int8_t>(std::nearbyint(std::ldexp(double(v), y.exp[static_cast<size_t>(n)] - e)));
      }
      y.exp[static_cast<size_t>(n)] = e;
    }
    measure("per-tensor max", y, 0);
  }
  std::string table = "rule                          nonzero  fwd-cosine  dW-flushed  saturated\n";
  for (const Row& r : rows) {
    char line[160];
    std::snprintf(line, sizeof line, "%-28s %7.1f%%  %10.4f  %9.1f%%  %8.2f%%\n", r.rule, 100 * r.nonzero, r.cos_fwd,
                  100 * r.flushed, 100 * r.saturated);
    table += line;
  }
  MESSAGE("LayerNorm output exponent rules on the outlier case:\n" << table);
  // Plain round-half-even under the max rules rounded 93 % of the bulk to 0
  // and flushed the weight gradients it feeds; the sign-keeping rounding
  // (quant.hpp) keeps every entry nonzero under any rule, but the max rule
  // (step 1/4) then moves the bulk from -0.085 to -0.25: the default cap
  // (step 1/8) is the more accurate forward pass, and saturates within its
  // Chebyshev bound 1/253.
  for (const Row& r : rows) {
    CAPTURE(r.rule);
    CHECK(r.nonzero > 0.99);
    CHECK(r.flushed == 0);
  }
  const Row& def = rows[2];
  CHECK(def.cos_fwd > rows[0].cos_fwd);
  CHECK(def.nonzero > 0.99);
  CHECK(def.flushed <= 0.05);
  CHECK(def.saturated <= 1.0 / 253);
  CHECK(def.cos_fwd > 0.95);
}
