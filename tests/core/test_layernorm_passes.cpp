// LayerNorm's per-sample passes (layernorm.hpp, LayerNormPasses): every
// implementation the CPU runs gives the bits of the "exact" passes (the
// backward in 128 bits only), forward and backward, int8 and int16 inputs,
// on random samples, all-equal samples, samples at the int8/int16 extremes,
// peaked samples, and error signals that are zero, saturated, sparse or
// nearly parallel to ŷ (where dx cancels and the int64 path must fall back).
#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "float_ref.hpp"
#include "zimt/layers/layernorm.hpp"

using namespace zimt;
using ref::Owned;

namespace {

const LayerNormPasses& exact_passes() {
  for (const LayerNormPasses& p : layernorm_passes())
    if (std::string(p.name) == "exact") return p;
  FAIL("no exact passes");
  return layernorm_passes()[0];
}

// Sample contents by `kind`: 0 random over the type, 1 all equal, 2 the two
// extremes, 3 a few values (many ties), 4 peaked (mostly 0, a few at the max).
template <class T>
void fill_input(Owned<T>& x, int kind, std::mt19937_64& rng) {
  const int hi = sizeof(T) == 1 ? 127 : 32767;
  std::uniform_int_distribution<int> any(-hi, hi), few(-2, 2), pick(0, 99);
  for (auto& v : x.data) {
    switch (kind) {
      case 0: v = static_cast<T>(any(rng)); break;
      case 1: v = static_cast<T>(hi); break;
      case 2: v = static_cast<T>(pick(rng) < 50 ? hi : -hi); break;
      case 3: v = static_cast<T>(few(rng)); break;
      default: v = static_cast<T>(pick(rng) < 3 ? hi : 0); break;
    }
  }
}

// Error signals by `kind`: 0 random, 1 zero, 2 the two extremes, 3 sparse
// (80 % zero), 4 the input itself rescaled (dx nearly cancels), 5 that plus
// a small random part.
template <class T>
void fill_error(Owned<int16_t>& d, const Owned<T>& x, int kind, std::mt19937_64& rng) {
  std::uniform_int_distribution<int> any(-32767, 32767), small(-3, 3), pick(0, 99);
  const int scale = sizeof(T) == 1 ? 258 : 1;
  for (size_t i = 0; i < d.data.size(); ++i) {
    int v = 0;
    switch (kind) {
      case 0: v = any(rng); break;
      case 1: v = 0; break;
      case 2: v = pick(rng) < 50 ? 32767 : -32767; break;
      case 3: v = pick(rng) < 80 ? 0 : any(rng); break;
      case 4: v = x.data[i] * scale; break;
      default: v = x.data[i] * scale + small(rng); break;
    }
    d.data[i] = static_cast<int16_t>(std::clamp(v, -32767, 32767));
  }
}

template <class T>
void compare_passes(const LayerNormPasses& impl, const Shape& shape, int kind, int dkind, std::mt19937_64& rng) {
  const LayerNormPasses& exact = exact_passes();
  Owned<T> x = [&] {
    if constexpr (sizeof(T) == 1)
      return ref::random_act(shape, rng, -8, 4);
    else
      return ref::random_err(shape, rng, -20, 4);
  }();
  fill_input(x, kind, rng);
  Owned<int16_t> d = ref::random_err(shape, rng);
  fill_error(d, x, dkind, rng);

  Owned<int8_t> y(shape), y_ref(shape);
  auto yv = y.view();
  auto yrv = y_ref.view();
  CHECK(layernorm_forward(yv, x.view(), {}, impl) == layernorm_forward(yrv, x.view(), {}, exact));
  CHECK(y.data == y_ref.data);
  CHECK(y.exp == y_ref.exp);
  if constexpr (sizeof(T) == 2) {
    Owned<int16_t> z(shape), z_ref(shape);
    auto zv = z.view();
    auto zrv = z_ref.view();
    layernorm_forward(zv, x.view(), {}, impl);
    layernorm_forward(zrv, x.view(), {}, exact);
    CHECK(z.data == z_ref.data);
    CHECK(z.exp == z_ref.exp);
  }
  Owned<int16_t> dx(shape), dx_ref(shape);
  auto dxv = dx.view();
  auto dxrv = dx_ref.view();
  layernorm_backward(dxv, d.view(), x.view(), impl);
  layernorm_backward(dxrv, d.view(), x.view(), exact);
  CHECK(dx.data == dx_ref.data);
  CHECK(dx.exp == dx_ref.exp);
}

}  // namespace

TEST_CASE("layernorm passes: every implementation gives the exact passes' bits") {
  std::mt19937_64 rng(21);
  for (const LayerNormPasses& impl : layernorm_passes()) {
    if (!impl.available()) continue;
    CAPTURE(std::string(impl.name));
    for (const Shape& s : {Shape{3, 1}, Shape{2, 2}, Shape{2, 3}, Shape{2, 17}, Shape{3, 7, 9, 5}, Shape{2, 32, 14, 14},
                           Shape{2, 64, 7, 7}, Shape{1, 64, 56, 56}}) {
      for (int kind = 0; kind < 5; ++kind)
        for (int dkind = 0; dkind < 6; ++dkind) {
          CAPTURE(s.sample_numel());
          CAPTURE(kind);
          CAPTURE(dkind);
          compare_passes<int8_t>(impl, s, kind, dkind, rng);
          compare_passes<int16_t>(impl, s, kind, dkind, rng);
        }
    }
  }
}
