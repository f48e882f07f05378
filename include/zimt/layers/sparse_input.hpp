#pragma once
// A stride-1 convolution of one sample whose input is mostly 0, in int32,
// position-major:
//   out[oh·OW + ow, o] = Σ_{c,kh,kw} w[o, (c·k + kh)·k + kw] · x[c, oh + kh - pad, ow + kw - pad]
// (0 outside the image), modulo 2^32: the exact sums wherever the caller's
// bound (C·k·k · max|w| · max|x| < 2^31, kernels::sum_fits_int32) holds.
// conv2d's input error is such a convolution of the output error (the
// filter flipped, conv2d.cpp), and after a 2x2 max pool's backward at most
// one output error in four is nonzero (the MNIST CNN's conv2): the dense
// GEMM multiplies the zeros too.
//
// The weights are packed once per call (pack_weights): per tap and pair of
// input channels (2j, 2j + 1), the pair's two weights of every output
// channel side by side, so that one int32 holding a pair's two input
// values meets 16 output channels in one vpdpwssd.
//
// Implementations, chosen as the pools' (row_kernel_choice.hpp):
//   avx512: each input position's nonzero channel pairs listed; then per
//           output position the listed pairs of the k·k positions it reads,
//           each broadcast against the tap's packed weights, int32 lanes
//           for 16 output channels each (O a multiple of 16, at most 64)
//   scalar: int64 products of the nonzero inputs (the reference)
// Both return the same bits (tests/core/test_sparse_input.cpp).
#include <cstddef>
#include <cstdint>
#include <span>

namespace zimt::sparse_input {

struct Geometry {
  int64_t C, H, W, O, k, pad;
  int64_t OH() const { return H + 2 * pad - k + 1; }
  int64_t OW() const { return W + 2 * pad - k + 1; }
  int64_t pairs() const { return (C + 1) / 2; }
};

// packed[((kh·k + kw)·pairs + j)·O + o] = the int16 pair (w[o, 2j, kh, kw],
// w[o, 2j + 1, kh, kw]), the second 0 for an odd C; w is (O, C·k·k).
size_t packed_size(const Geometry& g);  // int16 values
void pack_weights(const Geometry& g, const int16_t* w, int16_t* packed);

struct Kernels {
  const char* name;
  bool (*available)();
  // Whether this implementation takes geometry g.
  bool (*handles)(const Geometry& g);
  // out (OH·OW, O) for one sample x (C, H, W); scratch: scratch_size(g) int32 words.
  void (*sums)(int32_t* out, const int16_t* x, const int16_t* packed, const Geometry& g, int32_t* scratch);
};

// The scratch of sums: each input position's list of nonzero channel pairs.
size_t scratch_size(const Geometry& g);

namespace detail {
extern const Kernels avx512_kernels;  // sparse_input_avx512.cpp
extern const Kernels scalar_kernels;  // sparse_input.cpp
}  // namespace detail

// Every implementation, the scalar reference last.
std::span<const Kernels> kernels();
// The one conv2d uses; the scalar reference is slower than the dense GEMM,
// so conv2d takes this way only when a vector kernel is chosen.
const Kernels& chosen();

}  // namespace zimt::sparse_input
