// The oracle's own test: every float reference backward agrees with central
// finite differences of its forward pass on L = Σ r·y (r random), at inputs
// away from kinks (random doubles: ties and zeros have probability 0).
#include <doctest/doctest.h>

#include "float_ref.hpp"

using namespace zimt;
using ref::Vec;

namespace {

Vec rand_vec(size_t n, std::mt19937_64& rng) {
  std::normal_distribution<double> d(0.0, 1.0);
  Vec v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

double dot(const Vec& a, const Vec& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// Central differences on smooth (piecewise-linear or exp/log) functions with
// h = 1e-5: truncation O(h^2 f''') and cancellation O(eps |f| / h) are both
// < 1e-8 relative here, so 1e-6 leaves a wide margin yet catches any wrong
// index or factor (those give errors of order 1).
constexpr double kTol = 1e-6;
constexpr double kH = 1e-5;

}  // namespace

TEST_CASE("float reference: linear backward matches finite differences") {
  std::mt19937_64 rng(1);
  const int64_t N = 3, I = 5, O = 4;
  const Vec x = rand_vec(N * I, rng), w = rand_vec(O * I, rng), b = rand_vec(O, rng), r = rand_vec(N * O, rng);
  Vec dx, dw, db;
  ref::linear_backward(dx, dw, db, r, x, w, N, I, O);
  CHECK(ref::gradient_check([&](const Vec& v) { return dot(r, ref::linear_forward(v, w, b, N, I, O)); }, x, dx, kH) <
        kTol);
  CHECK(ref::gradient_check([&](const Vec& v) { return dot(r, ref::linear_forward(x, v, b, N, I, O)); }, w, dw, kH) <
        kTol);
  CHECK(ref::gradient_check([&](const Vec& v) { return dot(r, ref::linear_forward(x, w, v, N, I, O)); }, b, db, kH) <
        kTol);
}

TEST_CASE("float reference: conv2d backward matches finite differences (stride, padding, odd sizes)") {
  std::mt19937_64 rng(2);
  for (const auto& [stride, pad, k] :
       {std::tuple{1, 1, 3}, std::tuple{2, 1, 3}, std::tuple{2, 0, 1}, std::tuple{2, 3, 7}}) {
    const Shape in{2, 3, 9, 7};
    Conv2dSpec s;
    s.in_channels = 3, s.out_channels = 4, s.kernel = k, s.stride = stride, s.padding = pad;
    const Vec x = rand_vec(static_cast<size_t>(in.numel()), rng), w = rand_vec(static_cast<size_t>(4 * 3 * k * k), rng),
              b = rand_vec(4, rng);
    const Vec r = rand_vec(ref::conv2d_forward(x, w, b, in, s).size(), rng);
    Vec dx, dw, db;
    ref::conv2d_backward(dx, dw, db, r, x, w, in, s);
    CHECK(ref::gradient_check([&](const Vec& v) { return dot(r, ref::conv2d_forward(v, w, b, in, s)); }, x, dx, kH) <
          kTol);
    CHECK(ref::gradient_check([&](const Vec& v) { return dot(r, ref::conv2d_forward(x, v, b, in, s)); }, w, dw, kH) <
          kTol);
    CHECK(ref::gradient_check([&](const Vec& v) { return dot(r, ref::conv2d_forward(x, w, v, in, s)); }, b, db, kH) <
          kTol);
  }
}

TEST_CASE("float reference: relu, max pool and average pool backward match finite differences") {
  std::mt19937_64 rng(3);
  const Shape in{2, 3, 7, 6};
  const Vec x = rand_vec(static_cast<size_t>(in.numel()), rng);
  {
    const Vec r = rand_vec(x.size(), rng);
    CHECK(ref::gradient_check([&](const Vec& v) { return dot(r, ref::relu_forward(v)); }, x, ref::relu_backward(r, x),
                              kH) < kTol);
  }
  for (const MaxPoolSpec& s : {MaxPoolSpec{2, 2, 0}, MaxPoolSpec{3, 2, 1}}) {
    const Vec r = rand_vec(ref::maxpool_forward(x, in, s).size(), rng);
    CHECK(ref::gradient_check([&](const Vec& v) { return dot(r, ref::maxpool_forward(v, in, s)); }, x,
                              ref::maxpool_backward(r, x, in, s), kH) < kTol);
  }
  {
    const Vec r = rand_vec(static_cast<size_t>(in[0] * in[1]), rng);
    CHECK(ref::gradient_check([&](const Vec& v) { return dot(r, ref::global_avgpool_forward(v, in)); }, x,
                              ref::global_avgpool_backward(r, in), kH) < kTol);
  }
}

TEST_CASE("float reference: softmax cross-entropy backward matches finite differences") {
  std::mt19937_64 rng(4);
  const int64_t N = 3, K = 10;
  Vec z = rand_vec(N * K, rng);
  for (auto& v : z) v *= 3;
  const std::vector<int32_t> labels{0, 7, 9};
  CHECK(ref::gradient_check([&](const Vec& v) { return ref::softmax_ce_forward(v, labels, N, K); }, z,
                            ref::softmax_ce_backward(z, labels, N, K), kH) < kTol);
}

TEST_CASE("float reference: the checker catches a wrong gradient") {
  std::mt19937_64 rng(5);
  const Vec x = rand_vec(6, rng);
  Vec wrong = ref::relu_backward(Vec(6, 1.0), x);
  wrong[0] += 0.5;
  CHECK(ref::gradient_check([&](const Vec& v) { return dot(Vec(6, 1.0), ref::relu_forward(v)); }, x, wrong, kH) > 0.1);
}
