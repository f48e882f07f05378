// The sparse-input convolution (sparse_input.hpp): the scalar reference
// against the definition on the unpacked weights (so the packing too), and
// every kernel the CPU runs against the scalar reference, bit for bit, for
// every output-channel count the vector kernel takes, odd and even input
// channels, kernel sizes 1, 3 and 5 with and without padding, densities from
// none to all (both of the vector kernel's ways: at 5 in 1000 few input
// positions hold a nonzero pair), and the int16 extremes (sums past int32
// wrap alike).
#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "zimt/layers/sparse_input.hpp"

using namespace zimt;

namespace {

// x (C,H,W) with about `per_mille`/1000 nonzero entries, w (O, C·k·k);
// kind 0 random values, 1 the extremes.
struct Operands {
  std::vector<int16_t> x, w;
};
Operands make(const sparse_input::Geometry& g, int per_mille, int kind, std::mt19937_64& rng) {
  std::uniform_int_distribution<int> any(-32768, 32767), coin(0, 1), mille(0, 999);
  auto value = [&]() { return static_cast<int16_t>(kind == 0 ? any(rng) : (coin(rng) != 0 ? 32767 : -32768)); };
  Operands o{std::vector<int16_t>(static_cast<size_t>(g.C * g.H * g.W)),
             std::vector<int16_t>(static_cast<size_t>(g.O * g.C * g.k * g.k))};
  for (auto& v : o.x) v = mille(rng) < per_mille ? value() : int16_t{0};
  for (auto& v : o.w) v = value();
  return o;
}

std::vector<int32_t> run(const sparse_input::Kernels& impl, const sparse_input::Geometry& g, const Operands& o) {
  std::vector<int16_t> packed(sparse_input::packed_size(g), -1);
  sparse_input::pack_weights(g, o.w.data(), packed.data());
  std::vector<int32_t> scratch(sparse_input::scratch_size(g), -1);
  std::vector<int32_t> out(static_cast<size_t>(g.O * g.OH() * g.OW()), 7);
  impl.sums(out.data(), o.x.data(), packed.data(), g, scratch.data());
  return out;
}

}  // namespace

TEST_CASE("sparse input: the scalar reference is the convolution's sums modulo 2^32") {
  std::mt19937_64 rng(5);
  for (const sparse_input::Geometry& g :
       {sparse_input::Geometry{3, 5, 6, 4, 3, 1}, sparse_input::Geometry{2, 7, 4, 3, 5, 2},
        sparse_input::Geometry{1, 4, 4, 2, 3, 0}}) {
    CAPTURE(g.C);
    CAPTURE(g.k);
    const Operands o = make(g, 400, 0, rng);
    const std::vector<int32_t> out = run(sparse_input::detail::scalar_kernels, g, o);
    const int64_t OH = g.OH(), OW = g.OW(), K = g.C * g.k * g.k;
    for (int64_t oc = 0; oc < g.O; ++oc)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          int64_t want = 0;
          for (int64_t c = 0; c < g.C; ++c)
            for (int64_t kh = 0; kh < g.k; ++kh)
              for (int64_t kw = 0; kw < g.k; ++kw) {
                const int64_t ih = oh + kh - g.pad, iw = ow + kw - g.pad;
                if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
                want += int64_t{o.w[static_cast<size_t>(oc * K + (c * g.k + kh) * g.k + kw)]} *
                        o.x[static_cast<size_t>((c * g.H + ih) * g.W + iw)];
              }
          CHECK(out[static_cast<size_t>((oh * OW + ow) * g.O + oc)] == static_cast<int32_t>(want));
        }
  }
}

TEST_CASE("sparse input: every kernel the CPU runs returns the scalar reference's sums") {
  std::mt19937_64 rng(11);
  for (const sparse_input::Kernels& impl : sparse_input::kernels()) {
    if (!impl.available()) continue;
    CAPTURE(impl.name);
    for (const int64_t O : {16, 32, 48, 64})
      for (const int64_t C : {1, 2, 5, 64})
        for (const int64_t k : {1, 3, 5})
          for (const int per_mille : {0, 5, 250, 1000})
            for (int kind = 0; kind < 2; ++kind) {
              // The CNN's conv2 input error (14x14, k 3, pad 1) and a
              // non-square image without padding.
              for (const sparse_input::Geometry& g :
                   {sparse_input::Geometry{C, 14, 14, O, k, k / 2}, sparse_input::Geometry{C, 9, 6, O, k, 0}}) {
                if (!impl.handles(g)) continue;
                CAPTURE(O);
                CAPTURE(C);
                CAPTURE(k);
                CAPTURE(g.pad);
                CAPTURE(per_mille);
                CAPTURE(kind);
                const Operands o = make(g, per_mille, kind, rng);
                CHECK(run(impl, g, o) == run(sparse_input::detail::scalar_kernels, g, o));
              }
            }
  }
}
