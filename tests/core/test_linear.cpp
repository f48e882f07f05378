// Integer linear layer vs the float reference on the same (dequantised)
// numbers. Tolerances from the arithmetic:
//   forward / input error: exact int64 accumulation (and exact bias join),
//     then ONE round-half-even requantisation: |int - ref| <= 0.5 step (for
//     the input error max(0.5 step, step - |ref|): requantize_i16 keeps
//     small nonzero errors at ±1 instead of flushing them, quant.hpp).
//   weight / bias gradients: exact int64 sums with exact alignment (the
//     exponent spread here is far below align_batch's bound): equal to the
//     reference up to double rounding of the reference itself (1e-12 rel).
#include <doctest/doctest.h>
#include <tbb/global_control.h>

#include <type_traits>

#include "float_ref.hpp"
#include "zimt/layers/linear.hpp"
#include "zimt/quant.hpp"

using namespace zimt;
using ref::Vec;

namespace {

// X: the input's element type (int8 activations, or int16 ones after an
// int16 LayerNorm, model.hpp).
template <class X = int8_t>
struct Case {
  ParamSet params;
  LinearSpec spec;
  ref::Owned<X> x;
  ref::Owned<int16_t> dy;
  Case(int64_t N, int64_t I, int64_t O, bool bias, uint64_t seed, WeightStorage storage = WeightStorage::int8,
       int w_exp = 0, int b_exp = 0)
      : x(Shape{N, I}), dy(Shape{N, O}) {
    std::mt19937_64 rng(seed);
    params.storage = storage;
    spec.in_features = I;
    spec.out_features = O;
    spec.weight = params.add("fc.weight", {O, I}, ParamKind::weight, w_exp);
    spec.has_bias = bias;
    if (bias) spec.bias = params.add("fc.bias", {O}, ParamKind::bias, b_exp);
    ref::random_weights(params, spec.weight, rng, weight_limit(storage));
    if (bias) ref::random_weights(params, spec.bias, rng, weight_limit(storage));
    if constexpr (sizeof(X) == 1)
      x = ref::random_act(Shape{N, I}, rng);
    else
      x = ref::random_err(Shape{N, I}, rng, -14, -8);
    dy = ref::random_err(Shape{N, O}, rng);
  }
};

// Y: the output's element type (int16 before a ReLU and a LayerNorm).
template <class Y = int8_t>
struct Result {
  ref::Owned<Y> y;
  ref::Owned<int16_t> dx;
  std::vector<int64_t> g;
  std::vector<int32_t> g_exp;
};

template <class Y = int8_t, class X>
Result<Y> run(Case<X>& c) {
  Result<Y> r{ref::Owned<Y>(linear_out_shape(c.x.shape, c.spec)), ref::Owned<int16_t>(c.x.shape), {}, {}};
  auto y = r.y.view();
  auto dx = r.dx.view();
  linear_forward(y, c.x.view(), c.params, c.spec);
  linear_backward(&dx, c.dy.view(), c.x.view(), c.params, c.spec);
  r.g = c.params.g;
  for (const auto& t : c.params.tensors) r.g_exp.push_back(t.g_exp);
  return r;
}

// Checks one case against the reference; returns the max errors in steps.
template <class Y = int8_t, class X>
std::pair<double, double> check_against_ref(Case<X>& c) {
  const Result<Y> r = run<Y>(c);
  const int64_t N = c.x.shape[0], I = c.spec.in_features, O = c.spec.out_features;
  const Vec x = ref::real(c.x.view()), w = ref::real_weights(c.params, c.spec.weight);
  const Vec b = c.spec.has_bias ? ref::real_weights(c.params, c.spec.bias) : Vec{};
  const Vec y_ref = ref::linear_forward(x, w, b, N, I, O);
  const double fwd = ref::max_error_in_steps(ref::real(r.y.view()), y_ref, ref::steps(r.y.view()));
  // One requantisation (quant.hpp): half a step, or up to one step for a
  // value below half a step kept at ±1 instead of rounded to 0.
  CHECK(ref::max_ratio(ref::real(r.y.view()), y_ref, ref::error_signal_bounds(y_ref, ref::steps(r.y.view()))) <=
        1 + 1e-9);

  Vec dx_ref, dw_ref, db_ref;
  ref::linear_backward(dx_ref, dw_ref, db_ref, ref::real(c.dy.view()), x, w, N, I, O);
  const double bwd = ref::max_error_in_steps(ref::real(r.dx.view()), dx_ref, ref::steps(r.dx.view()));
  CHECK(ref::max_ratio(ref::real(r.dx.view()), dx_ref, ref::error_signal_bounds(dx_ref, ref::steps(r.dx.view()))) <=
        1 + 1e-9);
  const auto dx_signs = ref::sign_stats(ref::real(r.dx.view()), dx_ref);
  CHECK(dx_signs.agree == 1.0);  // no input error flushed or flipped
  CHECK(dx_signs.spurious == 0);
  const Vec dw = ref::real_grads(c.params, c.spec.weight);
  CHECK(ref::max_relative_error(dw, dw_ref) < 1e-12);
  const auto st = ref::sign_stats(dw, dw_ref);
  CHECK(st.agree == 1.0);
  CHECK(st.spurious == 0);
  if (c.spec.has_bias) CHECK(ref::max_relative_error(ref::real_grads(c.params, c.spec.bias), db_ref) < 1e-12);
  return {fwd, bwd};
}

// After linear_backward on c: the weight gradient is its definition term
// by term, dW[o,i] = Σ_n apply_shift(dout[n,o]·in[n,i], shift_n) with
// align_batch's shifts (quant.hpp), on align_batch's exponent.
template <class X>
void check_gradient_by_terms(const Case<X>& c) {
  const int64_t N = c.x.shape[0], I = c.spec.in_features, O = c.spec.out_features;
  std::vector<int32_t> sample_exp(static_cast<size_t>(N));
  for (size_t n = 0; n < sample_exp.size(); ++n) sample_exp[n] = c.dy.exp[n] + c.x.exp[n];
  const BatchAlignment wa =
      align_batch(sample_exp.data(), N, product_sum_bits(magnitude_bits<int16_t>(), magnitude_bits<X>(), 1));
  CHECK(c.params.tensors[c.spec.weight].g_exp == wa.exp);
  std::vector<int64_t> want(static_cast<size_t>(O * I), 0);
  for (int64_t o = 0; o < O; ++o)
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < I; ++i)
        want[static_cast<size_t>(o * I + i)] +=
            apply_shift(int64_t{c.dy.data[static_cast<size_t>(n * O + o)]} * c.x.data[static_cast<size_t>(n * I + i)],
                        wa.shift[static_cast<size_t>(n)]);
  const int64_t* g = c.params.grads(c.spec.weight);
  CHECK(std::vector<int64_t>(g, g + O * I) == want);
}

}  // namespace

TEST_CASE("linear: forward and backward within half a step of the float reference") {
  double worst_fwd = 0, worst_bwd = 0;
  uint64_t seed = 100;
  for (const auto& [N, I, O] : {std::tuple{1, 1, 1}, std::tuple{1, 17, 5}, std::tuple{4, 33, 10},
                                std::tuple{7, 128, 10}, std::tuple{3, 300, 31}}) {
    for (bool bias : {false, true}) {
      Case<> c(N, I, O, bias, ++seed);
      const auto [f, b] = check_against_ref(c);
      worst_fwd = std::max(worst_fwd, f), worst_bwd = std::max(worst_bwd, b);
    }
  }
  MESSAGE("linear: max |int - ref| forward " << worst_fwd << " steps, input error " << worst_bwd << " steps");
}

// The int16 variants (model.hpp, "norm_activations": "int16"): the same
// exact accumulation and one requantisation, 2^8 times finer on either side.
template <class X, class Y>
void check_wide_variant(WeightStorage storage) {
  uint64_t seed = 300;
  for (const auto& [N, I, O] : {std::tuple{1, 1, 1}, std::tuple{4, 33, 10}, std::tuple{7, 128, 10}}) {
    Case<X> c(N, I, O, true, ++seed, storage);
    check_against_ref<Y>(c);
  }
  // Extremes: every operand at its limit (I = 3136: |Σ x·w| ~ 2^41 with
  // int16 x and w, |dout·x| < 2^30 per weight-gradient term).
  Case<X> c(2, 3136, 16, true, 9, storage);
  const int16_t lim = static_cast<int16_t>(weight_limit(storage));
  const X xmax = sizeof(X) == 1 ? 127 : 32767;
  for (auto& w : c.params.w) w = lim;
  for (auto& v : c.x.data) v = xmax;
  for (auto& v : c.dy.data) v = 32767;
  c.x.data[0] = static_cast<X>(-xmax);
  check_against_ref<Y>(c);
}

TEST_CASE("linear: int16 inputs and outputs within half a step of the float reference") {
  for (WeightStorage s : {WeightStorage::int8, WeightStorage::int16}) {
    check_wide_variant<int8_t, int16_t>(s);
    check_wide_variant<int16_t, int8_t>(s);
    check_wide_variant<int16_t, int16_t>(s);
  }
}

TEST_CASE("linear: weight and bias exponents other than 0 join exactly") {
  Case<> c(3, 20, 6, true, 7, WeightStorage::int8, -3, 4);
  check_against_ref(c);
  Case<> d(3, 20, 6, true, 8, WeightStorage::int8, 2, -9);
  check_against_ref(d);
}

TEST_CASE("linear: adversarial extremes rescale without overflow (int8 and int16 weights)") {
  for (WeightStorage s : {WeightStorage::int8, WeightStorage::int16}) {
    Case<> c(2, 3136, 16, true, 9, s);
    const int16_t lim = static_cast<int16_t>(weight_limit(s));
    for (auto& w : c.params.w) w = lim;
    for (auto& v : c.x.data) v = 127;
    for (auto& v : c.dy.data) v = 32767;
    c.x.data[0] = -127;
    check_against_ref(c);
    const Result<> r = run(c);
    CHECK(r.y.data[1] >= 64);  // rescaled by the smallest shift: the maximum lands in [64, 127]
    CHECK(r.y.exp[0] > 0);     // 3136 · 127 · lim does not fit int8
  }
}

TEST_CASE("linear: all-zero input and error give exact zeros") {
  Case<> c(3, 10, 4, false, 10);
  for (auto& v : c.x.data) v = 0;
  for (auto& v : c.dy.data) v = 0;
  const Result<> r = run(c);
  for (auto v : r.y.data) CHECK(v == 0);
  for (auto v : r.dx.data) CHECK(v == 0);
  for (auto v : r.g) CHECK(v == 0);
}

TEST_CASE("linear: bit-identical at 1, 2 and 4 threads") {
  std::vector<Result<int16_t>> results;
  for (int threads : {1, 2, 4}) {
    tbb::global_control gc(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(threads));
    Case<int16_t> c(9, 70, 12, true, 11);
    results.push_back(run<int16_t>(c));
  }
  for (size_t i = 1; i < results.size(); ++i) {
    CHECK(results[i].y.data == results[0].y.data);
    CHECK(results[i].y.exp == results[0].y.exp);
    CHECK(results[i].dx.data == results[0].dx.data);
    CHECK(results[i].dx.exp == results[0].dx.exp);
    CHECK(results[i].g == results[0].g);
    CHECK(results[i].g_exp == results[0].g_exp);
  }
}

TEST_CASE("linear: the weight gradient is the per-term sum of its definition, whatever the samples' exponents") {
  // dW[o,i] = Σ_n apply_shift(dout[n,o]·in[n,i], shift_n) with align_batch's
  // shifts (quant.hpp), term by term: the layer contracts samples that share
  // a shift in one GEMM and shifts the sum once, which must change nothing,
  // and rounds every term of a sample with a negative shift. 20 samples on
  // three exponents, one of them `up` binades higher (past the largest
  // shift, 62 - 22 - 5 = 35, the others turn negative); I = 600 spans three
  // column tiles of the GEMM; int8 and int16 inputs.
  for (int32_t up = 0; up <= 44; up = up == 0 ? 30 : up + 2) {
    CAPTURE(up);
    const auto check = [&](auto& c) {
      for (size_t n = 0; n < 20; ++n) {
        c.dy.exp[n] = -14 - static_cast<int32_t>(n % 3);
        c.x.exp[n] = -7;
      }
      c.dy.exp[5] = -14 + up;
      linear_backward(nullptr, c.dy.view(), c.x.view(), c.params, c.spec);
      check_gradient_by_terms(c);
    };
    Case<int8_t> narrow(20, 600, 7, false, 41);
    Case<int16_t> wide(20, 600, 7, false, 42);
    check(narrow);
    check(wide);
  }
}

TEST_CASE("linear: units whose error is 0 for the whole batch take part in neither GEMM, exactly") {
  // A ReLU that is off for every sample leaves its unit's error 0 across the
  // batch (most of the CNN's fc1 units in training): the layer leaves those
  // units out of the input error's GEMM and gives them a zero weight
  // gradient without multiplying. Against the exact integers: din from
  // int64 sums requantised, dW term by term; no unit, some units (the
  // first, inner ones, the last) and every unit dead; I = 600 spans three
  // column tiles of the weight gradient; int8 and int16 inputs.
  const int64_t N = 9, I = 600, O = 12;
  for (const std::vector<int64_t>& dead : {std::vector<int64_t>{}, std::vector<int64_t>{0, 3, 4, 11},
                                           std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}}) {
    CAPTURE(dead.size());
    const auto check = [&](auto& c) {
      for (int64_t o : dead)
        for (int64_t n = 0; n < N; ++n) c.dy.data[static_cast<size_t>(n * O + o)] = 0;
      c.dy.data[static_cast<size_t>(5 * O + 7)] = 0;  // a live unit with one zero error
      ref::Owned<int16_t> dx(c.x.shape);
      auto dx_view = dx.view();
      linear_backward(&dx_view, c.dy.view(), c.x.view(), c.params, c.spec);
      const int16_t* w = c.params.weights(c.spec.weight);
      const int32_t w_exp = c.params.tensors[c.spec.weight].w_exp;
      for (int64_t n = 0; n < N; ++n) {
        std::vector<int64_t> acc(static_cast<size_t>(I), 0);
        for (int64_t o = 0; o < O; ++o)
          for (int64_t i = 0; i < I; ++i)
            acc[static_cast<size_t>(i)] += int64_t{c.dy.data[static_cast<size_t>(n * O + o)]} * w[o * I + i];
        std::vector<int16_t> want(static_cast<size_t>(I));
        CHECK(requantize_i16(acc.data(), I, c.dy.exp[static_cast<size_t>(n)] + w_exp, want.data()) ==
              dx.exp[static_cast<size_t>(n)]);
        CHECK(std::equal(want.begin(), want.end(), dx.data.begin() + n * I));
      }
      check_gradient_by_terms(c);
    };
    Case<int8_t> narrow(N, I, O, true, 51);
    Case<int16_t> wide(N, I, O, true, 52);
    check(narrow);
    check(wide);
  }
}
