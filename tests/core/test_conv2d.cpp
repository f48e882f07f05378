// Integer conv2d vs the float reference on the same (dequantised) numbers.
// Tolerances from the arithmetic (as for linear): exact int64 accumulation
// and bias join, then one round-half-even requantisation -> |int - ref| <=
// 0.5 step for the output, max(0.5 step, step - |ref|) for the input error
// (small errors kept at ±1, quant.hpp); weight and bias gradients are
// exact sums (1e-12 relative: the double reference's own rounding).
// The int16-input variant (residual blocks with int16 activations) writes
// int16 outputs: the same bounds with requantize_i16's step.
#include <doctest/doctest.h>
#include <tbb/global_control.h>

#include <ostream>
#include <vector>

#include "float_ref.hpp"
#include "zimt/layers/conv2d.hpp"
#include "zimt/quant.hpp"

using namespace zimt;
using ref::Vec;

namespace {

struct Geo {
  int64_t N, C, H, W, O, k, stride, pad;
};

// X: the input's element type, int8_t (int8 output) or int16_t (int16 output).
template <class X>
struct CaseT {
  ParamSet params;
  Conv2dSpec spec;
  ref::Owned<X> x;
  ref::Owned<int16_t> dy;
  CaseT(const Geo& g, bool bias, uint64_t seed, WeightStorage storage = WeightStorage::int8)
      : x(Shape{g.N, g.C, g.H, g.W}), dy(Shape{1}) {
    std::mt19937_64 rng(seed);
    params.storage = storage;
    spec.in_channels = g.C, spec.out_channels = g.O, spec.kernel = g.k, spec.stride = g.stride, spec.padding = g.pad;
    spec.weight = params.add("conv.weight", {g.O, g.C, g.k, g.k}, ParamKind::weight);
    spec.has_bias = bias;
    if (bias) spec.bias = params.add("conv.bias", {g.O}, ParamKind::bias);
    ref::random_weights(params, spec.weight, rng, weight_limit(storage));
    if (bias) ref::random_weights(params, spec.bias, rng, weight_limit(storage));
    if constexpr (sizeof(X) == 1)
      x = ref::random_act(x.shape, rng);
    else
      x = ref::random_err(x.shape, rng, -14, -6, 32767);
    dy = ref::random_err(conv2d_out_shape(x.shape, spec), rng);
  }
};
using Case = CaseT<int8_t>;
using WideCase = CaseT<int16_t>;

template <class X>
struct ResultT {
  ref::Owned<X> y;
  ref::Owned<int16_t> dx;
  std::vector<int64_t> g;
  std::vector<int32_t> g_exp;
};
using Result = ResultT<int8_t>;

// Forward and backward of c; with `kept`, the live-tap weights kept from
// forward for backward (conv2d_live_weights_size entries, left in *kept).
template <class X>
ResultT<X> run(CaseT<X>& c, std::vector<int16_t>* kept = nullptr) {
  ResultT<X> r{ref::Owned<X>(conv2d_out_shape(c.x.shape, c.spec)), ref::Owned<int16_t>(c.x.shape), {}, {}};
  auto y = r.y.view();
  auto dx = r.dx.view();
  int16_t* live = nullptr;
  if (kept != nullptr) {
    kept->assign(static_cast<size_t>(conv2d_live_weights_size(c.x.shape, c.spec)), -32768);
    if (!kept->empty()) live = kept->data();
  }
  conv2d_forward(y, c.x.view(), c.params, c.spec, false, live);
  conv2d_backward(&dx, c.dy.view(), c.x.view(), c.params, c.spec, single_process(), live);
  r.g = c.params.g;
  for (const auto& t : c.params.tensors) r.g_exp.push_back(t.g_exp);
  return r;
}

// Images smaller than the kernel's reach (ResNet-18's last stage on 28x28
// inputs): 2x2 -> 1x1 (stride 2: 4 of 9 taps read the image), 1x1 -> 1x1
// (1 of 9, the centre tap), a 5x5 kernel on 2x2 (9 of 25); then `extra`.
std::vector<Geo> small_images_and(const Geo& extra) {
  return {Geo{4, 3, 2, 2, 4, 3, 2, 1}, Geo{3, 4, 1, 1, 5, 3, 1, 1}, Geo{2, 2, 2, 2, 3, 5, 1, 2}, extra};
}

std::ostream& operator<<(std::ostream& os, const Geo& g) {
  return os << "N " << g.N << ", C " << g.C << ", " << g.H << "x" << g.W << ", O " << g.O << ", k " << g.k
            << ", stride " << g.stride << ", pad " << g.pad;
}

template <class X>
std::pair<double, double> check_against_ref(CaseT<X>& c) {
  const ResultT<X> r = run(c);
  const Vec x = ref::real(c.x.view()), w = ref::real_weights(c.params, c.spec.weight);
  const Vec b = c.spec.has_bias ? ref::real_weights(c.params, c.spec.bias) : Vec{};
  const Vec y_ref = ref::conv2d_forward(x, w, b, c.x.shape, c.spec);
  const double fwd = ref::max_error_in_steps(ref::real(r.y.view()), y_ref, ref::steps(r.y.view()));
  // One requantize_i8 / requantize_i16 (quant.hpp): half a step, or up to
  // one step for a value below half a step kept at ±1 instead of rounded to 0.
  CHECK(ref::max_ratio(ref::real(r.y.view()), y_ref, ref::error_signal_bounds(y_ref, ref::steps(r.y.view()))) <=
        1 + 1e-9);
  Vec dx_ref, dw_ref, db_ref;
  ref::conv2d_backward(dx_ref, dw_ref, db_ref, ref::real(c.dy.view()), x, w, c.x.shape, c.spec);
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

}  // namespace

TEST_CASE("conv2d: forward and backward within half a step of the float reference") {
  double worst_fwd = 0, worst_bwd = 0;
  uint64_t seed = 200;
  for (const Geo& g : {Geo{1, 1, 5, 5, 1, 3, 1, 1}, Geo{2, 3, 9, 7, 4, 3, 2, 1}, Geo{3, 2, 8, 8, 5, 1, 2, 0},
                       Geo{1, 1, 28, 28, 4, 7, 2, 3}, Geo{2, 4, 6, 5, 3, 3, 1, 0}, Geo{2, 5, 7, 7, 6, 3, 3, 2}}) {
    for (bool bias : {false, true}) {
      Case c(g, bias, ++seed);
      const auto [f, b] = check_against_ref(c);
      worst_fwd = std::max(worst_fwd, f), worst_bwd = std::max(worst_bwd, b);
    }
  }
  MESSAGE("conv2d: max |int - ref| forward " << worst_fwd << " steps, input error " << worst_bwd << " steps");
}

TEST_CASE("conv2d: adversarial extremes rescale without overflow (int8 and int16 weights)") {
  for (WeightStorage s : {WeightStorage::int8, WeightStorage::int16}) {
    Case c(Geo{2, 64, 6, 6, 8, 3, 1, 1}, true, 9, s);
    const int16_t lim = static_cast<int16_t>(weight_limit(s));
    for (auto& w : c.params.w) w = static_cast<int16_t>(-lim);
    for (auto& v : c.x.data) v = 127;
    for (auto& v : c.dy.data) v = -32767;
    check_against_ref(c);
    const Result r = run(c);
    CHECK(r.y.exp[0] > 0);
  }
}

TEST_CASE("conv2d: all-zero input and error give exact zeros") {
  Case c(Geo{2, 3, 6, 6, 4, 3, 1, 1}, true, 10);
  for (auto& v : c.x.data) v = 0;
  for (auto& v : c.dy.data) v = 0;
  for (auto& w : c.params.w) w = 0;
  const Result r = run(c);
  for (auto v : r.y.data) CHECK(v == 0);
  for (auto v : r.dx.data) CHECK(v == 0);
  for (auto v : r.g) CHECK(v == 0);
}

TEST_CASE("conv2d: bit-identical at 1, 2 and 4 threads") {
  std::vector<Result> results;
  for (int threads : {1, 2, 4}) {
    tbb::global_control gc(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(threads));
    Case c(Geo{9, 3, 10, 9, 5, 3, 2, 1}, true, 11);
    results.push_back(run(c));
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

// Samples on one exponent form one group of the weight-gradient sum,
// larger than a thread's share of the batch: with 2 and 4 threads that
// group's GEMM is split by bands of 64 columns of the gradient (72 and 80
// live patch entries: a full band and a part) instead of whole groups per
// thread. Deep-layer shapes: 1x1 and 2x2 images.
TEST_CASE("conv2d: one large group of samples, split by gradient columns, is bit-identical at 1, 2 and 4 threads") {
  for (const Geo& geo : {Geo{8, 72, 1, 1, 8, 3, 1, 1}, Geo{8, 20, 2, 2, 8, 3, 1, 1}}) {
    std::vector<Result> results;
    for (int threads : {1, 2, 4}) {
      tbb::global_control gc(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(threads));
      Case c(geo, false, 23);
      for (auto& e : c.x.exp) e = c.x.exp[0];
      for (auto& e : c.dy.exp) e = c.dy.exp[0];
      results.push_back(run(c));
    }
    for (size_t i = 1; i < results.size(); ++i) {
      CHECK(results[i].dx.data == results[0].dx.data);
      CHECK(results[i].dx.exp == results[0].dx.exp);
      CHECK(results[i].g == results[0].g);
      CHECK(results[i].g_exp == results[0].g_exp);
    }
  }
}

TEST_CASE("conv2d on images smaller than the kernel's reach: taps that read padding only are skipped exactly") {
  // small_images_and a non-square image (every tap kept). The float
  // reference, the padding taps' gradients exactly 0, the same at 1, 2 and 4
  // threads.
  uint64_t seed = 600;
  for (const Geo& g : small_images_and(Geo{2, 2, 1, 3, 3, 3, 1, 1})) {
    CAPTURE(g);
    for (WeightStorage storage : {WeightStorage::int8, WeightStorage::int16}) {
      Case c(g, true, ++seed, storage);
      check_against_ref(c);
      WideCase wide(g, true, ++seed, storage);
      check_against_ref(wide);
      // A tap reads the image iff some output position puts it inside.
      const Result r = run(c);
      const int64_t oh_count = conv2d_out_shape(c.x.shape, c.spec)[2],
                    ow_count = conv2d_out_shape(c.x.shape, c.spec)[3];
      for (int64_t kh = 0; kh < g.k; ++kh)
        for (int64_t kw = 0; kw < g.k; ++kw) {
          bool reads = false;
          for (int64_t oh = 0; oh < oh_count; ++oh)
            for (int64_t ow = 0; ow < ow_count; ++ow) {
              const int64_t ih = oh * g.stride - g.pad + kh, iw = ow * g.stride - g.pad + kw;
              reads = reads || (ih >= 0 && ih < g.H && iw >= 0 && iw < g.W);
            }
          if (reads) continue;
          for (int64_t o = 0; o < g.O; ++o)
            for (int64_t ch = 0; ch < g.C; ++ch)
              CHECK(r.g[static_cast<size_t>(((o * g.C + ch) * g.k + kh) * g.k + kw)] == 0);
        }
    }
    std::vector<Result> results;
    for (int threads : {1, 2, 4}) {
      tbb::global_control gc(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(threads));
      Case c(Geo{9, g.C, g.H, g.W, g.O, g.k, g.stride, g.pad}, true, 77);
      results.push_back(run(c));
    }
    for (size_t i = 1; i < results.size(); ++i) {
      CHECK(results[i].y.data == results[0].y.data);
      CHECK(results[i].dx.data == results[0].dx.data);
      CHECK(results[i].dx.exp == results[0].dx.exp);
      CHECK(results[i].g == results[0].g);
    }
  }
}

TEST_CASE("conv2d: live-tap weights kept from forward give backward the same results, and are W's live taps") {
  // small_images_and (the strided path's rows; the centre tap's flipped
  // filter, a transpose; 3x3 of 5x5 taps, flipped) an image where every tap
  // is live (nothing kept).
  uint64_t seed = 900;
  for (const Geo& g : small_images_and(Geo{2, 2, 5, 5, 3, 3, 1, 1})) {
    CAPTURE(g);
    auto check = [&](auto& c) {
      const auto plain = run(c);
      std::vector<int16_t> kept;
      const auto kept_run = run(c, &kept);
      CHECK(kept_run.y.data == plain.y.data);
      CHECK(kept_run.y.exp == plain.y.exp);
      CHECK(kept_run.dx.data == plain.dx.data);
      CHECK(kept_run.dx.exp == plain.dx.exp);
      CHECK(kept_run.g == plain.g);
      CHECK(kept_run.g_exp == plain.g_exp);
      // The taps that read the image: a square range [first, first + live) in both directions.
      const int64_t out = conv2d_out_shape(c.x.shape, c.spec)[3];
      int64_t first = g.k, last = -1;
      for (int64_t kw = 0; kw < g.k; ++kw)
        for (int64_t ow = 0; ow < out; ++ow) {
          const int64_t iw = ow * g.stride - g.pad + kw;
          if (iw >= 0 && iw < g.W) first = std::min(first, kw), last = std::max(last, kw);
        }
      const int64_t live = last + 1 - first;
      CHECK(kept.size() == static_cast<size_t>(live == g.k ? 0 : g.O * g.C * live * live));
      const int16_t* w = c.params.weights(c.spec.weight);
      for (size_t i = 0; i < kept.size(); ++i) {
        const auto j = static_cast<int64_t>(i);
        const int64_t b = j % live, a = j / live % live, ch = j / (live * live) % g.C, o = j / (live * live * g.C);
        CHECK(kept[i] == w[((o * g.C + ch) * g.k + first + a) * g.k + first + b]);
      }
    };
    for (WeightStorage storage : {WeightStorage::int8, WeightStorage::int16}) {
      Case c(g, true, ++seed, storage);
      check(c);
      WideCase wide(g, false, ++seed, storage);
      check(wide);
    }
  }
}

namespace {

// The weight gradient of c's whole batch against the per-sample gradients
// (each sample alone: its own exponent, nothing shifted) joined as
// align_batch says (quant.hpp): sum_n apply_shift(g_n, e_n - g_exp). Exact
// equality: the batch is contracted in runs of samples sharing a shift
// (conv2d.cpp), which must change nothing.
template <class X>
void check_batch_is_joined_samples(CaseT<X>& c) {
  const size_t w = c.spec.weight;
  const int64_t count = static_cast<int64_t>(c.params.tensors[w].numel);
  conv2d_backward(nullptr, c.dy.view(), c.x.view(), c.params, c.spec);
  const std::vector<int64_t> batch(c.params.grads(w), c.params.grads(w) + count);
  const int32_t batch_exp = c.params.tensors[w].g_exp;
  std::vector<int64_t> joined(static_cast<size_t>(count), 0);
  const int64_t xs = c.x.view().sample_numel(), ys = c.dy.view().sample_numel();
  for (int64_t n = 0; n < c.x.shape[0]; ++n) {
    ref::Owned<X> x1(Shape{1, c.x.shape[1], c.x.shape[2], c.x.shape[3]});
    ref::Owned<int16_t> dy1(Shape{1, c.dy.shape[1], c.dy.shape[2], c.dy.shape[3]});
    std::copy_n(c.x.data.begin() + n * xs, xs, x1.data.begin());
    std::copy_n(c.dy.data.begin() + n * ys, ys, dy1.data.begin());
    x1.exp[0] = c.x.exp[static_cast<size_t>(n)];
    dy1.exp[0] = c.dy.exp[static_cast<size_t>(n)];
    conv2d_backward(nullptr, dy1.view(), x1.view(), c.params, c.spec);
    const int32_t shift = c.params.tensors[w].g_exp - batch_exp;
    for (int64_t i = 0; i < count; ++i) joined[static_cast<size_t>(i)] += apply_shift(c.params.grads(w)[i], shift);
  }
  CHECK(batch == joined);
}

}  // namespace

TEST_CASE("conv2d: a batch's weight gradient is its samples' gradients joined exactly, whatever their exponents") {
  // 20 samples on two exponents, then one sample `up` binades higher: past
  // align_batch's largest shift (quant.hpp: 62 - term bits - log2 batch;
  // 20..34 here) the others' shifts turn negative and must be rounded one by
  // one (rounding a run's sum would differ). Output positions 36 (groups of
  // at most 8 samples: runs of 10 share each shift), 25 (groups of 10) and
  // 1 (a deep ResNet layer's: one group of up to 256); the odd ones put a
  // zero column after an odd run that another follows in its GEMM
  // (sample_runs.hpp). int8 and int16 inputs; 1 thread (whole groups) and
  // 2 and 4 (groups per thread, or one group by column bands).
  for (int threads : {1, 2, 4}) {
    tbb::global_control gc(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(threads));
    for (const Geo& geo : {Geo{20, 3, 6, 6, 4, 3, 1, 1}, Geo{20, 3, 5, 5, 4, 3, 1, 1}, Geo{20, 5, 3, 3, 4, 3, 1, 0}}) {
      for (int32_t up = 0; up <= 40; up = up == 0 ? 16 : up + 1) {
        CAPTURE(threads);
        CAPTURE(geo.H);
        CAPTURE(up);
        Case c(geo, false, 31);
        WideCase wide(geo, false, 32);
        for (size_t n = 0; n < 20; ++n) {
          c.dy.exp[n] = wide.dy.exp[n] = -14 - static_cast<int32_t>(n % 2);
          c.x.exp[n] = wide.x.exp[n] = -7;
        }
        c.dy.exp[5] = wide.dy.exp[5] = -14 + up;
        check_batch_is_joined_samples(c);
        check_batch_is_joined_samples(wide);
      }
    }
  }
}

TEST_CASE("conv2d on int16 inputs (int16 x int16 GEMMs): within half a step of the float reference") {
  double worst_fwd = 0, worst_bwd = 0;
  uint64_t seed = 400;
  for (const Geo& g : {Geo{1, 1, 5, 5, 1, 3, 1, 1}, Geo{2, 3, 9, 7, 4, 3, 2, 1}, Geo{3, 2, 8, 8, 5, 1, 2, 0},
                       Geo{2, 8, 4, 4, 6, 3, 1, 1}, Geo{2, 5, 7, 7, 6, 3, 3, 2}}) {
    for (bool bias : {false, true}) {
      WideCase c(g, bias, ++seed);
      const auto [f, b] = check_against_ref(c);
      worst_fwd = std::max(worst_fwd, f), worst_bwd = std::max(worst_bwd, b);
    }
  }
  MESSAGE("conv2d int16: max |int - ref| forward " << worst_fwd << " steps, input error " << worst_bwd << " steps");
}

TEST_CASE("conv2d on int16 inputs: extremes rescale without overflow, zeros stay exact, thread-independent") {
  for (WeightStorage s : {WeightStorage::int8, WeightStorage::int16}) {
    WideCase c(Geo{2, 64, 6, 6, 8, 3, 1, 1}, true, 19, s);
    const int16_t lim = static_cast<int16_t>(weight_limit(s));
    for (auto& w : c.params.w) w = static_cast<int16_t>(-lim);
    for (auto& v : c.x.data) v = 32767;
    for (auto& v : c.dy.data) v = -32767;
    check_against_ref(c);
  }
  WideCase z(Geo{2, 3, 6, 6, 4, 3, 1, 1}, true, 20);
  for (auto& v : z.x.data) v = 0;
  for (auto& v : z.dy.data) v = 0;
  for (auto& w : z.params.w) w = 0;
  const ResultT<int16_t> r = run(z);
  for (auto v : r.y.data) CHECK(v == 0);
  for (auto v : r.dx.data) CHECK(v == 0);
  for (auto v : r.g) CHECK(v == 0);

  std::vector<ResultT<int16_t>> results;
  for (int threads : {1, 2, 4}) {
    tbb::global_control gc(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(threads));
    WideCase c(Geo{9, 3, 10, 9, 5, 3, 2, 1}, true, 21);
    results.push_back(run(c));
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

// A small chain conv2d -> relu -> maxpool -> flatten -> linear -> softmax_ce,
// integer engine vs float on the same integer weights and the same int8
// input: how much the int8 forward requantisations and the int16 error
// signals change the weight gradients (whole models: test_model_agreement.cpp).
#include "zimt/layers/flatten.hpp"
#include "zimt/layers/pool.hpp"
#include "zimt/layers/relu.hpp"
#include "zimt/layers/softmax_ce.hpp"

TEST_CASE("conv2d chain: weight gradients agree with float (cosine, signs, flushes)") {
  std::mt19937_64 rng(300);
  const int64_t N = 16, C = 8, H = 14, K = 10;
  ParamSet params;
  Conv2dSpec cs;
  cs.in_channels = 1, cs.out_channels = C, cs.kernel = 3, cs.padding = 1, cs.has_bias = true;
  cs.weight = params.add("conv.weight", {C, 1, 3, 3}, ParamKind::weight, -2);
  cs.bias = params.add("conv.bias", {C}, ParamKind::bias, -2);
  LinearSpec ls;
  ls.in_features = C * 7 * 7, ls.out_features = K, ls.has_bias = true;
  ls.weight = params.add("fc.weight", {K, C * 49}, ParamKind::weight, -6);
  ls.bias = params.add("fc.bias", {K}, ParamKind::bias, -2);
  for (size_t t = 0; t < params.tensors.size(); ++t) ref::random_weights(params, t, rng, 3);
  auto x = ref::random_act(Shape{N, 1, H, H}, rng, -7, -7);
  std::vector<int32_t> labels(N);
  for (auto& l : labels) l = static_cast<int32_t>(rng() % K);

  // integer engine
  const MaxPoolSpec ps{2, 2, 0};
  ref::Owned<int8_t> a1(conv2d_out_shape(x.shape, cs)), a2(a1.shape), a3(maxpool_out_shape(a1.shape, ps)),
      a4(flatten_out_shape(a3.shape)), z(Shape{N, K});
  ref::Owned<int16_t> dz(z.shape), d4(a4.shape), d3(a3.shape), d2(a2.shape), d1(a1.shape);
  auto v1 = a1.view(), v2 = a2.view(), v3 = a3.view(), v4 = a4.view(), vz = z.view();
  conv2d_forward(v1, x.view(), params, cs);
  relu_forward(v2, v1);
  maxpool_forward(v3, v2, ps);
  flatten_forward(v4, v3);
  linear_forward(vz, v4, params, ls);
  auto gz = dz.view(), g4 = d4.view(), g3 = d3.view(), g2 = d2.view(), g1 = d1.view();
  softmax_ce_backward(gz, vz, labels.data());
  linear_backward(&g4, gz, v4, params, ls);
  flatten_backward(g3, g4);
  maxpool_backward(g2, g3, v2, ps);
  relu_backward(g1, g2, v2);
  conv2d_backward(nullptr, g1, x.view(), params, cs);

  // float reference on the same weights and input
  const Vec xr = ref::real(x.view());
  const Vec cw = ref::real_weights(params, cs.weight), cb = ref::real_weights(params, cs.bias);
  const Vec lw = ref::real_weights(params, ls.weight), lb = ref::real_weights(params, ls.bias);
  const Vec f1 = ref::conv2d_forward(xr, cw, cb, x.shape, cs), f2 = ref::relu_forward(f1);
  const Vec f3 = ref::maxpool_forward(f2, a2.shape, ps);
  const Vec fz = ref::linear_forward(f3, lw, lb, N, ls.in_features, K);
  const Vec fdz = ref::softmax_ce_backward(fz, labels, N, K);
  Vec fd4, flw, flb, fcx, fcw, fcb;
  ref::linear_backward(fd4, flw, flb, fdz, f3, lw, N, ls.in_features, K);
  const Vec fd1 = ref::relu_backward(ref::maxpool_backward(fd4, f2, a2.shape, ps), f1);
  ref::conv2d_backward(fcx, fcw, fcb, fd1, xr, cw, x.shape, cs);

  const std::pair<size_t, Vec> refs[] = {{cs.weight, fcw}, {cs.bias, fcb}, {ls.weight, flw}, {ls.bias, flb}};
  for (const auto& [t, fr] : refs) {
    const Vec gi = ref::real_grads(params, t);
    const double cos = ref::cosine(gi, fr);
    const auto st = ref::sign_stats(gi, fr);
    MESSAGE(params.tensors[t].name << ": cosine " << cos << ", sign agreement " << st.agree << ", flushed "
                                   << st.flushed << ", nonzero where float is 0: " << st.spurious);
    CHECK(cos >= 0.95);
    CHECK(st.agree >= 0.90);
    CHECK(st.flushed <= 0.05);
    CHECK(st.spurious == 0);
  }
}

namespace {

// The exact integer layer, directly: int64 sums of the convolution, the bias
// joined as join_bias states (src/core/layers/bias.hpp), one requantisation
// (quant.hpp). Every accumulation path of conv2d (int32 or int64 GEMMs and
// pixel sums) must give these bits.
template <class X>
void check_exact(CaseT<X>& c) {
  const Shape& s = c.x.shape;
  const int64_t N = s[0], C = s[1], H = s[2], W = s[3], O = c.spec.out_channels, k = c.spec.kernel;
  const int64_t st = c.spec.stride, pad = c.spec.padding;
  const Shape os = conv2d_out_shape(s, c.spec);
  const int64_t OH = os[2], OW = os[3];
  const int16_t* w = c.params.weights(c.spec.weight);
  const int32_t w_exp = c.params.tensors[c.spec.weight].w_exp;
  const ResultT<X> r = run(c);
  for (int64_t n = 0; n < N; ++n) {
    std::vector<int64_t> acc(static_cast<size_t>(O * OH * OW), 0), img(static_cast<size_t>(C * H * W), 0);
    const X* x = c.x.data.data() + n * C * H * W;
    const int16_t* dy = c.dy.data.data() + n * O * OH * OW;
    for (int64_t o = 0; o < O; ++o)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow)
          for (int64_t ch = 0; ch < C; ++ch)
            for (int64_t kh = 0; kh < k; ++kh)
              for (int64_t kw = 0; kw < k; ++kw) {
                const int64_t ih = oh * st - pad + kh, iw = ow * st - pad + kw;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                const int64_t wv = w[((o * C + ch) * k + kh) * k + kw];
                acc[static_cast<size_t>((o * OH + oh) * OW + ow)] += wv * x[(ch * H + ih) * W + iw];
                img[static_cast<size_t>((ch * H + ih) * W + iw)] += wv * dy[(o * OH + oh) * OW + ow];
              }
    int32_t e = c.x.exp[static_cast<size_t>(n)] + w_exp;
    if (c.spec.has_bias) {
      const int16_t* b = c.params.weights(c.spec.bias);
      const int32_t b_exp = c.params.tensors[c.spec.bias].w_exp;
      uint64_t max_acc = 0, max_b = 0;
      for (int64_t v : acc) max_acc = std::max(max_acc, abs_u64(v));
      for (int64_t o = 0; o < O; ++o) max_b = std::max(max_b, abs_u64(b[o]));
      if (max_b != 0) {
        const int32_t je = common_exponent(e, bit_width_u64(max_acc), b_exp, bit_width_u64(max_b));
        for (int64_t o = 0; o < O; ++o)
          for (int64_t p = 0; p < OH * OW; ++p) {
            int64_t& v = acc[static_cast<size_t>(o * OH * OW + p)];
            v = apply_shift(v, e - je) + apply_shift(b[o], b_exp - je);
          }
        e = je;
      }
    }
    std::vector<X> y(acc.size());
    CHECK(requantize(acc.data(), O * OH * OW, e, y.data()) == r.y.exp[static_cast<size_t>(n)]);
    CHECK(std::equal(y.begin(), y.end(), r.y.data.begin() + n * O * OH * OW));
    std::vector<int16_t> dx(img.size());
    CHECK(requantize_i16(img.data(), C * H * W, c.dy.exp[static_cast<size_t>(n)] + w_exp, dx.data()) ==
          r.dx.exp[static_cast<size_t>(n)]);
    CHECK(std::equal(dx.begin(), dx.end(), r.dx.data.begin() + n * C * H * W));
  }
}

}  // namespace

TEST_CASE("conv2d: int32 and int64 accumulation give the exact layer on both sides of the int32 bound") {
  // Forward sums of K = C·k·k terms |w·x| <= 127·32767: K = 516 fits int32,
  // 517 does not. With the bias 2^11 steps of the sum up, 516 terms no longer
  // fit with it (joined in int64), 2^0 still do.
  // Alternating signs over the channels (sums near 0): the bound says no, the
  // accumulators themselves fit with the bias (joined in int32).
  for (int64_t C : {516, 517})
    for (int32_t bias_up : {0, 11})
      for (bool alternate : {false, true}) {
        CAPTURE(C);
        CAPTURE(bias_up);
        CAPTURE(alternate);
        WideCase c(Geo{2, C, 3, 3, 3, 1, 1, 0}, true, 41);
        for (auto& w : c.params.w) w = 127;
        for (size_t i = 0; i < c.x.data.size(); ++i) c.x.data[i] = alternate && (i / 9) % 2 == 1 ? -32767 : 32767;
        c.params.tensors[c.spec.bias].w_exp = c.x.exp[0] + c.params.tensors[c.spec.weight].w_exp + bias_up;
        c.x.exp[1] = c.x.exp[0];
        check_exact(c);
      }
  // Input errors, terms |w·dout| <= 127·32767 (516 of them fit int32, 517
  // do not). Stride 1 convolves the output error with the flipped filter:
  // O·9 terms per pixel (O = 57 fits, 58 does not). Stride 2 adds patch
  // errors of O terms (O = 516 fits, 517 does not) onto the pixels, at most
  // 4 taps of 3x3 each (O = 129 fits, 130 does not). Same-sign values reach
  // the bounds; weights alternating in sign over O: the bound says no, the
  // sums themselves fit.
  for (int64_t stride : {1, 2})
    for (int64_t O : stride == 1 ? std::vector<int64_t>{57, 58, 516, 517} : std::vector<int64_t>{129, 130, 516, 517})
      for (bool alternate : {false, true}) {
        CAPTURE(stride);
        CAPTURE(O);
        CAPTURE(alternate);
        Case c(Geo{2, 2, 5, 4, O, 3, stride, 1}, false, 42);
        for (size_t i = 0; i < c.params.w.size(); ++i) c.params.w[i] = alternate && (i / 18) % 2 == 1 ? 127 : -127;
        for (auto& v : c.dy.data) v = 32767;
        check_exact(c);
      }
  // Random cases of both input types, strides and paddings.
  uint64_t seed = 500;
  for (const Geo& g : {Geo{3, 3, 9, 7, 4, 3, 2, 1}, Geo{2, 5, 7, 7, 6, 3, 3, 2}, Geo{2, 4, 6, 5, 3, 3, 1, 0},
                       Geo{1, 1, 28, 28, 4, 7, 2, 3}, Geo{2, 3, 6, 7, 5, 1, 1, 0}, Geo{2, 2, 8, 6, 3, 5, 1, 1},
                       Geo{3, 2, 4, 4, 4, 3, 1, 2}, Geo{2, 2, 5, 20, 3, 3, 1, 1}, Geo{2, 2, 3, 11, 2, 3, 1, 1}}) {
    Case c(g, true, ++seed);
    check_exact(c);
    WideCase wc(g, true, ++seed, WeightStorage::int16);
    check_exact(wc);
  }
}

TEST_CASE("conv2d at stride 1 on int16 inputs, its GEMM reading the padded input's rows: the exact layer") {
  // Images of 128 positions or more whose padded width is at least 8 (k-1)
  // (reads_padded_input): forward and the input error (the transposed
  // convolution, also stride 1) multiply the padded sample's rows in place
  // of its patches. The CNN's conv2, a non-square image with k = 5, no
  // padding, k = 1, and 58 channels of 3x3 at extremes (522 terms of
  // 127·32767: past the int32 bound, int64 sums) against 57 (513: int32).
  uint64_t seed = 800;
  for (const Geo& g : {Geo{2, 32, 14, 14, 64, 3, 1, 1}, Geo{2, 2, 9, 30, 3, 5, 1, 2}, Geo{2, 3, 12, 16, 4, 3, 1, 0},
                       Geo{2, 5, 12, 12, 4, 1, 1, 0}}) {
    CAPTURE(g);
    WideCase c(g, true, ++seed);
    check_exact(c);
    WideCase w16(g, false, ++seed, WeightStorage::int16);
    check_exact(w16);
  }
  for (int64_t C : {57, 58}) {
    CAPTURE(C);
    WideCase c(Geo{2, C, 12, 12, 3, 3, 1, 1}, false, ++seed);
    for (auto& w : c.params.w) w = 127;
    for (auto& v : c.x.data) v = 32767;
    for (auto& v : c.dy.data) v = -32767;
    check_exact(c);
  }
}

TEST_CASE("conv2d: output errors with at most one nonzero in four take the sparse ways, exactly") {
  // A 2x2 max pool's backward passes each window's error to at most one of
  // its four inputs (the CNN's conv2: its first geometry here); conv2d's
  // weight gradient then runs on sparse row products (sparse_rows.hpp)
  // where a vector kernel does, on int16 inputs, and where at most one in
  // eight is nonzero (windows that pass nothing: 1 in 5, then 13 in 16, then
  // 253 in 256, as sparse as the CNN's conv2 in training) its input error
  // skips the zeros (sparse_input.hpp) where the vector kernel takes the
  // geometry (the input's channels a multiple of 16, at most 64).
  // Gradients against the float reference (exact sums), the layer against
  // its exact integers, a batch against its samples joined (exponents
  // spread so that some shifts round), and 1, 2 and 4 threads.
  uint64_t seed = 700;
  for (const int windows : {5, 16, 256})  // of `windows` windows, 4 pass an error
    for (const Geo& g : {Geo{3, 32, 14, 14, 64, 3, 1, 1}, Geo{3, 3, 9, 7, 5, 3, 1, 1}, Geo{5, 2, 6, 6, 3, 3, 2, 1},
                         Geo{3, 40, 5, 5, 4, 3, 1, 1}, Geo{2, 16, 9, 8, 6, 5, 1, 2}, Geo{2, 64, 6, 7, 3, 3, 1, 0}}) {
      CAPTURE(windows);
      CAPTURE(g);
      std::vector<ResultT<int16_t>> results;
      for (int threads : {1, 2, 4}) {
        tbb::global_control gc(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(threads));
        WideCase c(g, true, seed);
        std::mt19937_64 rng(seed);
        std::uniform_int_distribution<int> pick(0, windows - 1);  // 4 or more: the window passes nothing
        const Shape s = c.dy.shape;
        for (int64_t plane = 0; plane < s[0] * s[1]; ++plane)
          for (int64_t h = 0; h < s[2]; h += 2)
            for (int64_t w = 0; w < s[3]; w += 2) {
              const int keep = pick(rng);
              for (int64_t i = 0; i < 4; ++i) {
                const int64_t hh = h + i / 2, ww = w + i % 2;
                if (hh < s[2] && ww < s[3] && i != keep)
                  c.dy.data[static_cast<size_t>((plane * s[2] + hh) * s[3] + ww)] = 0;
              }
            }
        check_against_ref(c);
        check_exact(c);
        results.push_back(run(c));
        c.dy.exp[1] += 40;
        check_batch_is_joined_samples(c);
      }
      for (size_t i = 1; i < results.size(); ++i) {
        CHECK(results[i].g == results[0].g);
        CHECK(results[i].dx.data == results[0].dx.data);
      }
      ++seed;
    }
}
