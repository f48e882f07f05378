// ReLU is exact in both directions (no requantisation): equality with the
// float reference, gradient 0 at 0.
#include <doctest/doctest.h>
#include <tbb/global_control.h>

#include "float_ref.hpp"
#include "zimt/layers/relu.hpp"

using namespace zimt;

TEST_CASE("relu: exact forward and backward, gradient 0 at 0, thread-independent") {
  std::vector<std::vector<int16_t>> dx_runs;
  for (int threads : {1, 2, 4}) {
    tbb::global_control gc(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(threads));
    std::mt19937_64 rng(21);
    const Shape s{5, 3, 7, 5};
    auto x = ref::random_act(s, rng, -6, 0, 3);  // small range: many exact zeros
    auto dy = ref::random_err(s, rng);
    ref::Owned<int8_t> y(s);
    ref::Owned<int16_t> dx(s);
    auto yv = y.view();
    auto dxv = dx.view();
    relu_forward(yv, x.view());
    relu_backward(dxv, dy.view(), y.view());
    CHECK(ref::real(y.view()) == ref::relu_forward(ref::real(x.view())));
    CHECK(ref::real(dx.view()) == ref::relu_backward(ref::real(dy.view()), ref::real(x.view())));
    for (size_t i = 0; i < x.data.size(); ++i)
      if (x.data[i] == 0) CHECK(dx.data[i] == 0);
    dx_runs.push_back(dx.data);
  }
  CHECK(dx_runs[1] == dx_runs[0]);
  CHECK(dx_runs[2] == dx_runs[0]);
}

TEST_CASE("relu on int16 (the stem before int16-activation blocks): exact, extremes, thread-independent") {
  std::vector<std::vector<int16_t>> runs;
  for (int threads : {1, 2, 4}) {
    tbb::global_control gc(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(threads));
    std::mt19937_64 rng(22);
    const Shape s{5, 3, 7, 5};
    auto x = ref::random_err(s, rng, -16, -8, 3);  // small range: many exact zeros
    x.data[0] = -32767, x.data[1] = 32767;         // extremes pass unchanged / become 0
    auto dy = ref::random_err(s, rng);
    ref::Owned<int16_t> y(s), dx(s);
    auto yv = y.view();
    auto dxv = dx.view();
    relu_forward(yv, x.view());
    relu_backward(dxv, dy.view(), y.view());
    CHECK(y.exp == x.exp);
    CHECK(ref::real(y.view()) == ref::relu_forward(ref::real(x.view())));
    CHECK(ref::real(dx.view()) == ref::relu_backward(ref::real(dy.view()), ref::real(x.view())));
    runs.push_back(dx.data);
    runs.back().insert(runs.back().end(), y.data.begin(), y.data.end());
  }
  CHECK(runs[1] == runs[0]);
  CHECK(runs[2] == runs[0]);
}
