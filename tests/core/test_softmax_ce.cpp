// Fixed-point softmax cross-entropy vs the float reference on the same
// dequantised logits. Error budget, from softmax_ce.cpp:
//   each exp term: table interpolation (h^2/8 · ln2^2 < 9.2e-7 relative for
//     h = 1/256), table rounding (2^-31 rel.), argument rounded to 2^-25
//     (1.7e-8 rel.), Q48 rounding: together < 1e-6 relative + 2^-48 absolute;
//   loss: ln of the sum (< 1e-6 from the terms) + log2 by squaring, truncated
//     to 2^-24 (· ln 2 < 4.2e-8), ln 2 product rounded (2^-25), result
//     rounded to Q16 (2^-17):   |loss - ref| <= 2^-17 + 1.1e-6;
//   gradient: p as a ratio of two such terms (< 2e-6 rel. + 2^-48 abs.),
//     /N then the int16 requantisation (max(0.5 step, step - |ref|): small
//     errors are kept at ±1, quant.hpp):
//     |g - ref| <= max(0.5 step, step - |ref|) + (2e-6 · p + 2^-47) / N.
#include <doctest/doctest.h>
#include <tbb/global_control.h>

#include "float_ref.hpp"
#include "zimt/layers/softmax_ce.hpp"

using namespace zimt;
using ref::Vec;

namespace {

struct Run {
  std::vector<int64_t> loss;
  std::vector<int32_t> pred;
  int64_t total = 0;
  ref::Owned<int16_t> g;
};

Run run(const ref::Owned<int8_t>& z, const std::vector<int32_t>& labels) {
  Run r{std::vector<int64_t>(labels.size()), std::vector<int32_t>(labels.size()), 0, ref::Owned<int16_t>(z.shape)};
  r.total = softmax_ce_forward(z.view(), labels.data(), r.loss.data(), r.pred.data());
  auto gv = r.g.view();
  softmax_ce_backward(gv, z.view(), labels.data());
  return r;
}

// Returns the fraction of entries flushed to zero (ref nonzero, int zero).
double check_case(const ref::Owned<int8_t>& z, const std::vector<int32_t>& labels) {
  const int64_t N = z.shape[0], K = z.shape[1];
  const Run r = run(z, labels);
  const Vec zr = ref::real(z.view());
  Vec losses;
  ref::softmax_ce_forward(zr, labels, N, K, &losses);
  int64_t total = 0;
  for (int64_t n = 0; n < N; ++n) {
    const double l = std::ldexp(double(r.loss[static_cast<size_t>(n)]), -kLossFracBits);
    CHECK(std::abs(l - losses[static_cast<size_t>(n)]) <= std::ldexp(1.0, -17) + 1.1e-6);
    total += r.loss[static_cast<size_t>(n)];
    const int8_t* row = z.data.data() + n * K;
    CHECK(r.pred[static_cast<size_t>(n)] == std::max_element(row, row + K) - row);
  }
  CHECK(r.total == total);

  const Vec g_ref = ref::softmax_ce_backward(zr, labels, N, K);
  const Vec g = ref::real(r.g.view());
  const Vec bound = ref::error_signal_bounds(g_ref, ref::steps(r.g.view()));
  for (size_t i = 0; i < g.size(); ++i) {
    const double p = g_ref[i] * double(N) + (labels[i / static_cast<size_t>(K)] == int32_t(i % size_t(K)) ? 1 : 0);
    CHECK(std::abs(g[i] - g_ref[i]) <= bound[i] + (2e-6 * p + std::ldexp(1.0, -47)) / double(N));
  }
  const auto st = ref::sign_stats(g, g_ref);
  CHECK(st.agree + st.flushed == doctest::Approx(1.0));
  return st.flushed;
}

}  // namespace

TEST_CASE("softmax cross-entropy: loss, prediction and gradient within the fixed-point error budget") {
  uint64_t seed = 80;
  for (const auto& [N, K, e_lo, e_hi] :
       {std::tuple{1, 10, -5, -5}, std::tuple{8, 10, -7, -4}, std::tuple{5, 3, -10, -2}, std::tuple{4, 100, -6, -3},
        std::tuple{3, 10, 0, 0}, std::tuple{2, 7, -14, -12}}) {
    std::mt19937_64 rng(++seed);
    auto z = ref::random_act(Shape{N, K}, rng, e_lo, e_hi);
    std::uniform_int_distribution<int32_t> lab(0, K - 1);
    std::vector<int32_t> labels(static_cast<size_t>(N));
    for (auto& l : labels) l = lab(rng);
    const double f = check_case(z, labels);
    MESSAGE("softmax_ce N=" << N << " K=" << K << " logit exponents [" << e_lo << "," << e_hi
                            << "]: nonzero float gradients flushed to 0: " << f);
    // Only p < 2^-48 (logits spanning more than 33) can flush.
    if (e_hi <= -2) CHECK(f == 0);
  }
}

TEST_CASE("softmax cross-entropy: equal logits, a confident sample and all-zero logits") {
  ref::Owned<int8_t> z(Shape{3, 10});
  for (int64_t k = 0; k < 10; ++k) z.data[static_cast<size_t>(10 + k)] = static_cast<int8_t>(k == 4 ? 127 : -127);
  z.exp = {-3, -2, 0};
  for (int64_t k = 0; k < 10; ++k) z.data[static_cast<size_t>(20 + k)] = 0;
  const std::vector<int32_t> labels{2, 4, 9};
  check_case(z, labels);
  const Run r = run(z, labels);
  // All-equal logits: loss ln 10 and p = 1/10 exactly in both.
  CHECK(std::abs(std::ldexp(double(r.loss[0]), -16) - std::log(10.0)) <= std::ldexp(1.0, -17) + 1.1e-6);
  CHECK(r.pred[0] == 0);  // ties go to the first maximum
  CHECK(r.pred[1] == 4);
  // Confident and right (margin 254 · 2^-2): p of the others is 0 in Q48,
  // so the gradient is exactly zero; in float it is e^-63.5 / 3 per entry.
  for (int64_t k = 0; k < 10; ++k) CHECK(r.g.data[static_cast<size_t>(10 + k)] == 0);
}

TEST_CASE("softmax cross-entropy: bit-identical at 1, 2 and 4 threads") {
  std::vector<std::vector<int16_t>> grads;
  std::vector<std::vector<int64_t>> losses;
  for (int threads : {1, 2, 4}) {
    tbb::global_control gc(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(threads));
    std::mt19937_64 rng(90);
    auto z = ref::random_act(Shape{33, 10}, rng, -7, -3);
    std::vector<int32_t> labels(33);
    for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<int32_t>(i % 10);
    const Run r = run(z, labels);
    grads.push_back(r.g.data);
    losses.push_back(r.loss);
  }
  CHECK(grads[1] == grads[0]);
  CHECK(grads[2] == grads[0]);
  CHECK(losses[1] == losses[0]);
  CHECK(losses[2] == losses[0]);
}
