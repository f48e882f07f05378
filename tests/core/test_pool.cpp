// Pools vs the float reference.
//   max pool forward: exact (a selection). Backward: sums of routed errors,
//     exact unless a sum leaves int16, then one requantize_i16:
//     <= max(0.5 step, step - |ref|) (small errors kept at ±1, quant.hpp).
//   global average pool: two roundings, the mean (resp. the share dout/HW)
//     to 2^-16 of the input step, then the requantisation:
//     |int - ref| <= 0.5 step_out + 0.5 · 2^-16 step_in (backward: the
//     requantize_i16 bound max(0.5 step, step - |ref|) + 0.5 · 2^-16 step_in).
#include <doctest/doctest.h>
#include <tbb/global_control.h>

#include <stdexcept>

#include "float_ref.hpp"
#include "zimt/layers/pool.hpp"
#include "zimt/layers/relu.hpp"

using namespace zimt;
using ref::Vec;

namespace {

// max_i |a - b| - bound_i <= 0, with a per-element bound
void check_within(const Vec& a, const Vec& b, const Vec& bound) {
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]) / bound[i]);
  CHECK(worst <= 1.0 + 1e-9);
}

struct MaxRun {
  ref::Owned<int8_t> y;
  ref::Owned<int16_t> dx;
};

MaxRun run_max(const ref::Owned<int8_t>& x, const ref::Owned<int16_t>& dy, const MaxPoolSpec& s) {
  MaxRun r{ref::Owned<int8_t>(maxpool_out_shape(x.shape, s)), ref::Owned<int16_t>(x.shape)};
  auto yv = r.y.view();
  auto dxv = r.dx.view();
  maxpool_forward(yv, x.view(), s);
  maxpool_backward(dxv, dy.view(), x.view(), s);
  return r;
}

}  // namespace

TEST_CASE("max pool: exact forward, backward to the first maximum, 2x2 and 3x3/2 pad 1, odd sizes") {
  uint64_t seed = 40;
  for (const MaxPoolSpec& s : {MaxPoolSpec{2, 2, 0}, MaxPoolSpec{3, 2, 1}, MaxPoolSpec{3, 1, 1}}) {
    for (const Shape& in : {Shape{1, 1, 4, 4}, Shape{2, 3, 7, 5}, Shape{3, 2, 28, 28}}) {
      std::mt19937_64 rng(++seed);
      auto x = ref::random_act(in, rng, -4, 0, 5);  // small range: many ties
      auto dy = ref::random_err(maxpool_out_shape(in, s), rng);
      const MaxRun r = run_max(x, dy, s);
      CHECK(ref::real(r.y.view()) == ref::maxpool_forward(ref::real(x.view()), in, s));
      const Vec dx_ref = ref::maxpool_backward(ref::real(dy.view()), ref::real(x.view()), in, s);
      check_within(ref::real(r.dx.view()), dx_ref, ref::error_signal_bounds(dx_ref, ref::steps(r.dx.view())));
      // Stride 2, kernel 2: windows are disjoint, so the routing is exact.
      if (s.kernel == 2) CHECK(ref::real(r.dx.view()) == dx_ref);
    }
  }
}

// int16 inputs (the stem before int16-activation residual blocks): the same
// selection, with ties and the int16 extremes (-32767 never loses to padding).
TEST_CASE("max pool on int16: exact forward, backward to the first maximum, thread-independent") {
  std::vector<std::vector<int16_t>> runs;
  for (int threads : {1, 2, 4}) {
    tbb::global_control gc(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(threads));
    uint64_t seed = 140;
    for (const MaxPoolSpec& s : {MaxPoolSpec{2, 2, 0}, MaxPoolSpec{3, 2, 1}, MaxPoolSpec{3, 1, 1}}) {
      for (const Shape& in : {Shape{1, 1, 4, 4}, Shape{2, 3, 7, 5}, Shape{3, 2, 28, 28}}) {
        std::mt19937_64 rng(++seed);
        auto x = ref::random_err(in, rng, -16, -8, 5);  // small range: many ties
        if (in[0] == 1)
          for (auto& v : x.data) v = -32767;  // every window at the minimum: padding must still lose
        auto dy = ref::random_err(maxpool_out_shape(in, s), rng);
        ref::Owned<int16_t> y(maxpool_out_shape(in, s)), dx(in);
        auto yv = y.view();
        auto dxv = dx.view();
        maxpool_forward(yv, x.view(), s);
        maxpool_backward(dxv, dy.view(), x.view(), s);
        CHECK(ref::real(y.view()) == ref::maxpool_forward(ref::real(x.view()), in, s));
        const Vec dx_ref = ref::maxpool_backward(ref::real(dy.view()), ref::real(x.view()), in, s);
        check_within(ref::real(dx.view()), dx_ref, ref::error_signal_bounds(dx_ref, ref::steps(dx.view())));
        if (s.kernel == 2) CHECK(ref::real(dx.view()) == dx_ref);
        runs.push_back(dx.data);
      }
    }
  }
  const size_t per = runs.size() / 3;
  for (size_t i = 0; i < per; ++i) {
    CHECK(runs[per + i] == runs[i]);
    CHECK(runs[2 * per + i] == runs[i]);
  }
}

// What the model relies on when it skips a ReLU's backward before a pool
// with disjoint windows (model.cpp): the pool's own ReLU mask gives the bits
// of relu_backward after maxpool_backward, on int8 and int16 ReLU outputs
// with many zero windows, plain 2x2 (even and odd sizes) and 3x3/3 pad 1.
TEST_CASE("max pool with disjoint windows folds the ReLU mask: the bits of relu_backward after it") {
  uint64_t seed = 240;
  for (const MaxPoolSpec& s : {MaxPoolSpec{2, 2, 0}, MaxPoolSpec{3, 3, 1}}) {
    CHECK(maxpool_folds_relu(s));
    for (const Shape& in : {Shape{2, 3, 8, 6}, Shape{2, 3, 7, 5}, Shape{3, 4, 28, 28}}) {
      std::mt19937_64 rng(++seed);
      auto pre8 = ref::random_act(in, rng, -4, 0, 3);  // -3..3: a ReLU leaves many all-zero windows
      auto pre16 = ref::random_err(in, rng, -16, -8, 3);
      auto dy = ref::random_err(maxpool_out_shape(in, s), rng);
      size_t zero_windows = 0;
      auto check = [&](const Activation& pre, const Activation& post) {
        relu_forward(post, pre);
        ref::Owned<int16_t> pooled(in), folded(in), unfolded(in);
        auto pooled_v = pooled.view(), folded_v = folded.view(), unfolded_v = unfolded.view();
        maxpool_backward(pooled_v, dy.view(), post, s);
        relu_backward(unfolded_v, pooled_v, post);
        maxpool_backward(folded_v, dy.view(), post, s, true);
        CHECK(folded.data == unfolded.data);
        CHECK(folded.exp == unfolded.exp);
        for (size_t i = 0; i < pooled.data.size(); ++i) zero_windows += pooled.data[i] != unfolded.data[i];
      };
      ref::Owned<int8_t> post8(in);
      ref::Owned<int16_t> post16(in);
      check(pre8.view(), post8.view());
      check(pre16.view(), post16.view());
      CHECK(zero_windows > 0);  // the mask removed errors the plain pool passed
    }
  }
  CHECK_FALSE(maxpool_folds_relu(MaxPoolSpec{3, 2, 1}));
  const Shape in{1, 1, 4, 4};
  ref::Owned<int8_t> x(in);
  ref::Owned<int16_t> dy(maxpool_out_shape(in, MaxPoolSpec{3, 2, 1})), dx(in);
  auto dxv = dx.view();
  CHECK_THROWS_AS(maxpool_backward(dxv, dy.view(), x.view(), MaxPoolSpec{3, 2, 1}, true), std::invalid_argument);
}

TEST_CASE("max pool: overlapping windows at int16 extremes rescale the input error") {
  std::mt19937_64 rng(50);
  const Shape in{1, 1, 5, 5};
  ref::Owned<int8_t> x(in);
  x.data[12] = 100;  // the centre wins all 9 windows of 3x3 stride 1 pad 1 touching it
  auto dy = ref::random_err(in, rng, -3, -3, 0);
  for (auto& v : dy.data) v = 32767;
  const MaxRun r = run_max(x, dy, MaxPoolSpec{3, 1, 1});
  CHECK(r.dx.exp[0] > dy.exp[0]);  // 9 · 32767 does not fit int16
  const Vec dx_ref = ref::maxpool_backward(ref::real(dy.view()), ref::real(x.view()), in, MaxPoolSpec{3, 1, 1});
  check_within(ref::real(r.dx.view()), dx_ref, ref::error_signal_bounds(dx_ref, ref::steps(r.dx.view())));
}

// 257^2 windows (kernel 257, stride 1) share one maximum: their errors sum
// beyond int32 range, so this pool sums in int64.
TEST_CASE("max pool: a maximum shared by 257^2 windows gets their whole error sum") {
  const Shape in{1, 1, 513, 513};
  const MaxPoolSpec s{257, 1, 0};
  ref::Owned<int8_t> x(in);
  const size_t peak = 256 * 513 + 256;  // inside every window
  x.data[peak] = 100;
  ref::Owned<int16_t> dy(maxpool_out_shape(in, s));
  REQUIRE(dy.data.size() == 257 * 257);
  for (auto& v : dy.data) v = -32767;
  const MaxRun r = run_max(x, dy, s);
  Vec dx_ref(r.dx.data.size(), 0.0);
  dx_ref[peak] = -32767.0 * 257 * 257 * std::ldexp(1.0, dy.exp[0]);
  check_within(ref::real(r.dx.view()), dx_ref, ref::error_signal_bounds(dx_ref, ref::steps(r.dx.view())));
  CHECK(r.dx.data[peak] == -16512);  // 257^2 · 32767 / 2^17, rounded to even
  CHECK(r.dx.exp[0] == dy.exp[0] + 17);
}

TEST_CASE("global average pool: forward and backward within the two-rounding bound") {
  uint64_t seed = 60;
  for (const Shape& in : {Shape{1, 1, 1, 1}, Shape{2, 5, 7, 7}, Shape{3, 4, 3, 5}}) {
    std::mt19937_64 rng(++seed);
    auto x = ref::random_act(in, rng);
    ref::Owned<int8_t> y(global_avgpool_out_shape(in));
    auto yv = y.view();
    global_avgpool_forward(yv, x.view(), Rounding::keep_sign);
    // The output rounding keeps signs (quant.hpp): half a step, or up to a
    // full step for a mean below half a step; plus the Q16 division's half.
    const Vec y_ref = ref::global_avgpool_forward(ref::real(x.view()), in);
    Vec bound = ref::error_signal_bounds(y_ref, ref::steps(y.view()));
    for (int64_t n = 0; n < in[0]; ++n)
      for (int64_t c = 0; c < in[1]; ++c)
        bound[static_cast<size_t>(n * in[1] + c)] += 0.5 * std::ldexp(1.0, x.exp[static_cast<size_t>(n)] - 16);
    check_within(ref::real(y.view()), y_ref, bound);

    auto dy = ref::random_err(global_avgpool_out_shape(in), rng);
    ref::Owned<int16_t> dx(in);
    auto dxv = dx.view();
    global_avgpool_backward(dxv, dy.view());
    const Vec dx_ref = ref::global_avgpool_backward(ref::real(dy.view()), in);
    Vec bound_b = ref::error_signal_bounds(dx_ref, ref::steps(dx.view()));
    for (size_t i = 0; i < bound_b.size(); ++i)
      bound_b[i] += 0.5 * std::ldexp(1.0, dy.exp[i / static_cast<size_t>(in.sample_numel())] - 16);
    check_within(ref::real(dx.view()), dx_ref, bound_b);
  }
}

// int16 input (the output of a residual block with int16 activations): the
// same two roundings, the mean to 2^-16 of the input step and one rounding
// to the nearest int8 (Rounding::nearest, the model's choice for int16
// inputs): |int - ref| <= 0.5 step_out + 0.5·2^-16 step_in.
TEST_CASE("global average pool on int16 inputs: within the two-rounding bound, extremes, zeros, threads") {
  uint64_t seed = 80;
  for (const Shape& in : {Shape{1, 1, 1, 1}, Shape{2, 5, 7, 7}, Shape{3, 4, 3, 5}, Shape{2, 3, 4, 4}}) {
    std::mt19937_64 rng(++seed);
    auto x = ref::random_err(in, rng, -14, -6, 32767);
    if (in[2] == 4)  // extremes: every input at -32767 (the mean fits int8 only after a shift of 9)
      for (auto& v : x.data) v = -32767;
    ref::Owned<int8_t> y(global_avgpool_out_shape(in));
    auto yv = y.view();
    global_avgpool_forward(yv, x.view(), Rounding::nearest);
    const Vec y_ref = ref::global_avgpool_forward(ref::real(x.view()), in);
    Vec bound = ref::steps(y.view());
    for (size_t i = 0; i < bound.size(); ++i)
      bound[i] = 0.5 * bound[i] + 0.5 * std::ldexp(1.0, x.exp[i / static_cast<size_t>(in[1])] - 16);
    check_within(ref::real(y.view()), y_ref, bound);
  }
  {  // a channel with one tiny positive unit next to a large one: its mean rounds to 0, not to one step
    ref::Owned<int16_t> x(Shape{1, 2, 2, 2});
    x.data = {32000, 32000, 32000, 32000, 1, 0, 0, 0};
    ref::Owned<int8_t> y(Shape{1, 2});
    auto yv = y.view();
    global_avgpool_forward(yv, x.view(), Rounding::nearest);
    CHECK(y.data[0] > 0);
    CHECK(y.data[1] == 0);
    // The rounding is the caller's choice, not the input width's: keep_sign
    // makes the same tiny mean one step.
    global_avgpool_forward(yv, x.view(), Rounding::keep_sign);
    CHECK(y.data[1] == 1);
  }
  ref::Owned<int16_t> zeros(Shape{2, 3, 4, 4});
  ref::Owned<int8_t> y(Shape{2, 3});
  auto yv = y.view();
  global_avgpool_forward(yv, zeros.view(), Rounding::nearest);
  for (auto v : y.data) CHECK(v == 0);

  std::vector<std::vector<int8_t>> runs;
  for (int threads : {1, 2, 4}) {
    tbb::global_control gc(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(threads));
    std::mt19937_64 rng(90);
    auto x = ref::random_err(Shape{7, 6, 5, 5}, rng, -14, -6, 32767);
    ref::Owned<int8_t> out(Shape{7, 6});
    auto ov = out.view();
    global_avgpool_forward(ov, x.view(), Rounding::nearest);
    runs.push_back(out.data);
  }
  CHECK(runs[1] == runs[0]);
  CHECK(runs[2] == runs[0]);
}

TEST_CASE("pools: all-zero inputs give exact zeros; bit-identical at 1, 2 and 4 threads") {
  std::vector<std::vector<int16_t>> runs;
  for (int threads : {1, 2, 4}) {
    tbb::global_control gc(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(threads));
    std::mt19937_64 rng(70);
    auto x = ref::random_act(Shape{6, 3, 9, 9}, rng);
    auto dy = ref::random_err(maxpool_out_shape(x.shape, MaxPoolSpec{3, 2, 1}), rng);
    const MaxRun r = run_max(x, dy, MaxPoolSpec{3, 2, 1});
    runs.push_back(r.dx.data);
  }
  CHECK(runs[1] == runs[0]);
  CHECK(runs[2] == runs[0]);

  ref::Owned<int8_t> zeros(Shape{2, 3, 4, 4});
  ref::Owned<int8_t> y(Shape{2, 3});
  auto yv = y.view();
  global_avgpool_forward(yv, zeros.view(), Rounding::keep_sign);
  for (auto v : y.data) CHECK(v == 0);
}
