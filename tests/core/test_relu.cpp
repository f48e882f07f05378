// ReLU is exact in both directions (no requantisation): equality with the
// float reference, gradient 0 at 0; conv2d and linear applying it to their
// own output give the same bits.
#include <doctest/doctest.h>
#include <tbb/global_control.h>

#include "float_ref.hpp"
#include "zimt/layers/conv2d.hpp"
#include "zimt/layers/linear.hpp"
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

// What the model relies on when a conv2d or linear layer applies the ReLU
// after it (model.cpp): their forward with relu gives the bits and exponents
// of relu_forward after their plain forward, for int8 and int16 outputs,
// with and without a bias, at 1 and 2 threads.
TEST_CASE("conv2d and linear forward with relu: the bits of relu_forward after them") {
  std::mt19937_64 rng(23);
  ParamSet params;
  params.storage = WeightStorage::int16;
  Conv2dSpec conv{4, 6, 3, 1, 1};
  conv.weight = params.add("conv.weight", {6, 4, 3, 3}, ParamKind::weight, -3);
  conv.has_bias = true;
  conv.bias = params.add("conv.bias", {6}, ParamKind::bias, -5);
  LinearSpec fc{20, 9};
  fc.weight = params.add("fc.weight", {9, 20}, ParamKind::weight, -2);
  for (size_t t = 0; t < params.tensors.size(); ++t) ref::random_weights(params, t, rng, 50);
  const auto image = ref::random_act(Shape{5, 4, 7, 6}, rng);
  const auto features = ref::random_act(Shape{5, 20}, rng);
  size_t zeroed = 0;  // outputs the ReLU set to 0: the check sees it act
  auto check = [&](auto plain, auto folded, auto forward) {
    auto plain_v = plain.view(), folded_v = folded.view();
    forward(plain_v, false);
    forward(folded_v, true);
    auto expected = plain;
    auto expected_v = expected.view();
    relu_forward(expected_v, plain_v);
    CHECK(folded.data == expected.data);
    CHECK(folded.exp == expected.exp);
    for (size_t i = 0; i < plain.data.size(); ++i) zeroed += plain.data[i] < 0;
  };
  for (int threads : {1, 2}) {
    tbb::global_control gc(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(threads));
    const Shape conv_out = conv2d_out_shape(image.shape, conv), fc_out = linear_out_shape(features.shape, fc);
    auto conv_forward = [&](const Activation& y, bool relu) { conv2d_forward(y, image.view(), params, conv, relu); };
    auto fc_forward = [&](const Activation& y, bool relu) { linear_forward(y, features.view(), params, fc, relu); };
    check(ref::Owned<int8_t>(conv_out), ref::Owned<int8_t>(conv_out), conv_forward);
    check(ref::Owned<int16_t>(conv_out), ref::Owned<int16_t>(conv_out), conv_forward);
    check(ref::Owned<int8_t>(fc_out), ref::Owned<int8_t>(fc_out), fc_forward);
    check(ref::Owned<int16_t>(fc_out), ref::Owned<int16_t>(fc_out), fc_forward);
  }
  CHECK(zeroed > 100);
}
