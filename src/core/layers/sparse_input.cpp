// The weight packing and the scalar reference of the sparse-input
// convolution (sparse_input.hpp), and the choice among the implementations.
#include "zimt/layers/sparse_input.hpp"

#include <algorithm>

#include "row_kernel_choice.hpp"

namespace zimt::sparse_input {

size_t packed_size(const Geometry& g) { return static_cast<size_t>(g.k * g.k * g.pairs() * g.O * 2); }

// The vector kernel's lists hold, per input position, one count and up to
// pairs() entries of two words (sparse_input_avx512.cpp); the reference's
// int64 sums take two words per output channel and position.
size_t scratch_size(const Geometry& g) {
  return static_cast<size_t>(std::max(g.H * g.W * (1 + 2 * g.pairs()), 2 * g.OH() * g.OW() * g.O));
}

void pack_weights(const Geometry& g, const int16_t* w, int16_t* packed) {
  const int64_t taps = g.k * g.k, K = g.C * taps;
  for (int64_t t = 0; t < taps; ++t)
    for (int64_t j = 0; j < g.pairs(); ++j)
      for (int64_t o = 0; o < g.O; ++o) {
        int16_t* pair = packed + ((t * g.pairs() + j) * g.O + o) * 2;
        pair[0] = w[o * K + 2 * j * taps + t];
        pair[1] = 2 * j + 1 < g.C ? w[o * K + (2 * j + 1) * taps + t] : int16_t{0};
      }
}

namespace {

bool always() { return true; }
bool any_geometry(const Geometry&) { return true; }

// Each nonzero input's products added onto the outputs it reaches, in int64,
// from the packed weights; out receives the sums modulo 2^32.
void sums_scalar(int32_t* out, const int16_t* x, const int16_t* packed, const Geometry& g, int32_t* scratch) {
  const int64_t OH = g.OH(), OW = g.OW(), P = OH * OW;
  auto* acc = reinterpret_cast<int64_t*>(scratch);  // (P, O): scratch_size holds P·O int64 words
  for (int64_t i = 0; i < g.O * P; ++i) acc[i] = 0;
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t ih = 0; ih < g.H; ++ih)
      for (int64_t iw = 0; iw < g.W; ++iw) {
        const int64_t v = x[(c * g.H + ih) * g.W + iw];
        if (v == 0) continue;
        for (int64_t kh = 0; kh < g.k; ++kh)
          for (int64_t kw = 0; kw < g.k; ++kw) {
            const int64_t oh = ih - kh + g.pad, ow = iw - kw + g.pad;
            if (oh < 0 || oh >= OH || ow < 0 || ow >= OW) continue;
            const int16_t* pair = packed + ((kh * g.k + kw) * g.pairs() + c / 2) * g.O * 2 + c % 2;
            for (int64_t o = 0; o < g.O; ++o) acc[(oh * OW + ow) * g.O + o] += v * pair[2 * o];
          }
      }
  for (int64_t i = 0; i < g.O * P; ++i) out[i] = static_cast<int32_t>(acc[i]);
}

}  // namespace

namespace detail {
constinit const Kernels scalar_kernels{"scalar", &always, &any_geometry, &sums_scalar};
}  // namespace detail

using Choice = zimt::detail::RowKernelChoice<Kernels, detail::avx512_kernels, detail::scalar_kernels>;
std::span<const Kernels> kernels() { return Choice::all(); }
const Kernels& chosen() { return Choice::chosen(); }

}  // namespace zimt::sparse_input
