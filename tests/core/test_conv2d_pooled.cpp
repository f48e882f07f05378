// conv2d_pooled_backward (conv2d_pooled.hpp) against the two passes it
// replaces, maxpool_backward with the ReLU's mask and then conv2d_backward
// without an input error: the same gradients and exponents, bit for bit, on
// the CNN's conv1 and on odd, non-square, padded and strided geometries,
// int8 and int16 inputs and outputs, with and without a bias, per-sample
// exponents spread far enough that some samples' sums are rounded, and at
// 1-3 threads; and every kernel the CPU runs against the scalar reference,
// on random, tied and extreme values.
#include <doctest/doctest.h>
#include <tbb/global_control.h>

#include <algorithm>
#include <ostream>
#include <random>
#include <vector>

#include "float_ref.hpp"
#include "zimt/layers/conv2d_pooled.hpp"
#include "zimt/layers/pool.hpp"

using namespace zimt;

namespace {

struct Geo {
  int64_t N, C, H, W, O, k, stride, pad;
};

std::ostream& operator<<(std::ostream& os, const Geo& g) {
  return os << "N " << g.N << ", C " << g.C << ", " << g.H << "x" << g.W << ", O " << g.O << ", k " << g.k
            << ", stride " << g.stride << ", pad " << g.pad;
}

const MaxPoolSpec kPool{2, 2, 0};

// Values of a ReLU output: many zeros and ties (kind 0), random (1), or the
// type's maximum and 0 (2).
template <class Y>
Y relu_value(int kind, std::mt19937_64& rng) {
  const int hi = sizeof(Y) == 1 ? 127 : 32767;
  std::uniform_int_distribution<int> few(-2, 2), any(0, hi), coin(0, 1);
  switch (kind) {
    case 0: return static_cast<Y>(std::max(0, few(rng)));
    case 1: return static_cast<Y>(any(rng));
    default: return static_cast<Y>(coin(rng) != 0 ? hi : 0);
  }
}

// X: the convolution's input type, Y: its output's (the pool's input).
template <class X, class Y>
struct Case {
  ParamSet params;
  Conv2dSpec spec;
  ref::Owned<X> x;
  ref::Owned<Y> y;
  ref::Owned<int16_t> dpool;
  Case(const Geo& g, bool bias, int kind, uint64_t seed) : x(Shape{g.N, g.C, g.H, g.W}), y(Shape{1}), dpool(Shape{1}) {
    std::mt19937_64 rng(seed);
    spec.in_channels = g.C, spec.out_channels = g.O, spec.kernel = g.k, spec.stride = g.stride, spec.padding = g.pad;
    spec.weight = params.add("conv.weight", {g.O, g.C, g.k, g.k}, ParamKind::weight);
    spec.has_bias = bias;
    if (bias) spec.bias = params.add("conv.bias", {g.O}, ParamKind::bias);
    const int x_hi = sizeof(X) == 1 ? 127 : 32767;
    std::uniform_int_distribution<int> xv(-x_hi - 1, x_hi), ev(-32768, 32767), ends(0, 1);
    for (auto& v : x.data) v = static_cast<X>(kind == 2 ? (ends(rng) != 0 ? x_hi : -x_hi - 1) : xv(rng));
    y = ref::Owned<Y>(conv2d_out_shape(x.shape, spec));
    for (auto& v : y.data) v = relu_value<Y>(kind, rng);
    dpool = ref::Owned<int16_t>(maxpool_out_shape(y.shape, kPool));
    for (auto& v : dpool.data) v = static_cast<int16_t>(kind == 2 ? (ends(rng) != 0 ? 32767 : -32768) : ev(rng));
    // Exponents spread over 60: the batch alignment rounds the smallest
    // samples' sums (negative shifts) and shifts the others left.
    std::uniform_int_distribution<int32_t> xe(-8, 0), de(-70, -10);
    for (auto& e : x.exp) e = xe(rng);
    for (auto& e : dpool.exp) e = de(rng);
    for (size_t n = 0; n < y.exp.size(); ++n) y.exp[n] = x.exp[n];
  }
};

struct Grads {
  std::vector<int64_t> g;
  std::vector<int32_t> g_exp;
  bool operator==(const Grads&) const = default;
};

template <class X, class Y>
Grads grads_of(Case<X, Y>& c) {
  Grads r{c.params.g, {}};
  for (const auto& t : c.params.tensors) r.g_exp.push_back(t.g_exp);
  return r;
}

// The two passes: the pool's backward (the ReLU's mask folded in), then the
// convolution's without an input error.
template <class X, class Y>
Grads unfused(Case<X, Y>& c) {
  ref::Owned<int16_t> dy(c.y.shape);
  auto dyv = dy.view();
  maxpool_backward(dyv, c.dpool.view(), c.y.view(), kPool, true);
  std::fill(c.params.g.begin(), c.params.g.end(), int64_t{-7});
  conv2d_backward(nullptr, dy.view(), c.x.view(), c.params, c.spec);
  return grads_of(c);
}

template <class X, class Y>
Grads fused(Case<X, Y>& c) {
  std::fill(c.params.g.begin(), c.params.g.end(), int64_t{7});
  conv2d_pooled_backward(c.dpool.view(), c.y.view(), c.x.view(), c.params, c.spec);
  return grads_of(c);
}

template <class X, class Y>
void check_geometries(const std::vector<Geo>& geos) {
  uint64_t seed = 11;
  for (const Geo& g : geos)
    for (bool bias : {false, true})
      for (int kind = 0; kind < 3; ++kind) {
        CAPTURE(g);
        CAPTURE(bias);
        CAPTURE(kind);
        Case<X, Y> c(g, bias, kind, ++seed);
        const Grads want = unfused(c);
        for (int threads : {1, 2, 3}) {
          CAPTURE(threads);
          const tbb::global_control limit(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(threads));
          CHECK(fused(c) == want);
        }
      }
}

// The CNN's conv1 (28x28, k 3, pad 1), odd outputs (13x13, 7x7: the last
// row and column outside every window), a non-square image with k 5, a
// stride-2 convolution and rows longer than 32 (the scalar kernel's).
const std::vector<Geo> kGeos{Geo{4, 1, 28, 28, 8, 3, 1, 1}, Geo{3, 2, 13, 13, 3, 3, 1, 1},
                             Geo{2, 3, 10, 12, 4, 5, 1, 2}, Geo{3, 1, 9, 9, 2, 3, 1, 0},
                             Geo{2, 2, 15, 15, 3, 3, 2, 1}, Geo{2, 1, 40, 36, 2, 3, 1, 1}};

}  // namespace

TEST_CASE("conv2d_pooled_backward: the gradients of the pool's and the convolution's backward, bit for bit") {
  check_geometries<int8_t, int16_t>(kGeos);
  check_geometries<int8_t, int8_t>(kGeos);
  check_geometries<int16_t, int16_t>({kGeos[0], kGeos[1]});
}

TEST_CASE("conv2d_pooled kernels: every one the CPU runs returns the scalar reference's sums") {
  const conv2d_pooled::PooledSumKernels& ref = conv2d_pooled::detail::scalar_pooled_sums;
  std::mt19937_64 rng(5);
  std::uniform_int_distribution<int> xv(-128, 127), ev(-32768, 32767), ends(0, 1);
  for (const conv2d_pooled::PooledSumKernels& impl : conv2d_pooled::pooled_sum_kernels()) {
    if (!impl.available()) continue;
    CAPTURE(impl.name);
    // C, k, OH = OW (stride 1, pad (k-1)/2): row lengths around and at the
    // 32-lane limit, odd and even.
    struct Shape3 {
      int64_t C, k, size;
    };
    for (const Shape3 t : {Shape3{1, 3, 28}, Shape3{2, 3, 31}, Shape3{1, 5, 32}, Shape3{3, 1, 5}, Shape3{1, 7, 2}}) {
      const int64_t C = t.C, k = t.k, size = t.size;
      const int64_t pad = (k - 1) / 2, PW = size + 2 * pad;
      const conv2d_pooled::TapGeometry g{C, k, 1, size, size, PW, PW};
      CAPTURE(C);
      CAPTURE(k);
      CAPTURE(size);
      REQUIRE(impl.handles(g, true));
      for (int kind = 0; kind < 3; ++kind) {
        CAPTURE(kind);
        std::vector<int16_t> xp(static_cast<size_t>(C * PW * PW + conv2d_pooled::kSlack), 0);
        for (int64_t i = 0; i < C * PW * PW; ++i)
          xp[static_cast<size_t>(i)] = static_cast<int16_t>(kind == 2 ? (ends(rng) != 0 ? 127 : -128) : xv(rng));
        std::vector<int16_t> e(static_cast<size_t>((size / 2) * (size / 2)));
        for (auto& v : e) v = static_cast<int16_t>(kind == 2 ? (ends(rng) != 0 ? 32767 : -32768) : ev(rng));
        std::vector<int8_t> y8(static_cast<size_t>(size * size));
        std::vector<int16_t> y16(y8.size());
        for (size_t i = 0; i < y8.size(); ++i)
          y8[i] = relu_value<int8_t>(kind, rng), y16[i] = relu_value<int16_t>(kind, rng);
        const auto cells = static_cast<size_t>(C * k * k);
        std::vector<int64_t> s(cells, 3), s_ref(cells, -3);
        std::vector<int16_t> plane(static_cast<size_t>(conv2d_pooled::plane_size(g)), 9);
        std::vector<int16_t> plane_ref(plane.size(), -9);
        CHECK(impl.sums_i8(s.data(), e.data(), y8.data(), xp.data(), g, plane.data()) ==
              ref.sums_i8(s_ref.data(), e.data(), y8.data(), xp.data(), g, plane_ref.data()));
        CHECK(s == s_ref);
        CHECK(impl.sums_i16(s.data(), e.data(), y16.data(), xp.data(), g, plane.data()) ==
              ref.sums_i16(s_ref.data(), e.data(), y16.data(), xp.data(), g, plane_ref.data()));
        CHECK(s == s_ref);
      }
    }
  }
}
