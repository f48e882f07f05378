#pragma once
// The backward of a first convolution (no input error) from the error of
// the plain 2x2 max pool after its ReLU (the MNIST CNN's conv1 -> relu ->
// maxpool): the gradients that maxpool_backward (relu_mask) followed by
// conv2d_backward without din give, bit for bit, without forming the
// convolution's output error (N,O,OH,OW) in memory. One output channel of
// one sample at a time, each window's error goes to its first maximum
// when that is > 0 (max_2x2.hpp's row kernels) in a plane that stays in
// cache, and the plane's tap sums
//   S[c,kh,kw] = Σ_{oh,ow} dy[oh,ow] · x[c, oh·s - p + kh, ow·s - p + kw]
// (x zero outside the image) and its sum join dW and db as in
// conv2d_backward (align_batch, quant.hpp).
//
// Kernels (route and sum one output channel of one sample), chosen as the
// pools' (row_kernel_choice.hpp):
//   avx512: stride 1, inputs within int8, rows of at most 32 outputs: the
//           windows of a row pair routed in registers (max_2x2_avx512.hpp)
//           into a plane of 32-lane rows in L1; each row of errors meets
//           the input row that tap (kh, kw) reads in one vpdpwssd, int32
//           lanes (a lane adds two products of |dy|·|x| <= 2^15·2^7 per
//           row: exact for up to 255 rows)
//   scalar: max_2x2's scalar rows, then the nonzero errors one by one in
//           int64 (the reference)
// Both return the exact sums, so they agree bit for bit
// (tests/core/test_conv2d_pooled.cpp).
#include <cstdint>
#include <span>

#include "zimt/batch_reducer.hpp"
#include "zimt/layers/conv2d.hpp"
#include "zimt/layers/pool.hpp"
#include "zimt/param.hpp"
#include "zimt/tensor.hpp"

namespace zimt {

// Whether conv2d_pooled_backward takes this pair: the plain 2x2 pool
// (kernel 2, stride 2, no padding) on the convolution's output.
bool conv2d_pooled_applies(const Conv2dSpec& conv, const MaxPoolSpec& pool);

// dpool (N,O,OH/2,OW/2): the pool's output error; y (N,O,OH,OW): the
// convolution's output after the ReLU (the pool's input); in (N,C,H,W): the
// convolution's input, int8 or int16. Overwrites the gradients of
// conv.weight (and conv.bias) as conv2d_backward does.
void conv2d_pooled_backward(const Err& dpool, const Activation& y, const Activation& in, ParamSet& params,
                            const Conv2dSpec& conv, const BatchReducer& reducer = single_process());

namespace conv2d_pooled {

// One sample's input padded into int16 planes (C, PH, PW), PH = H + 2p,
// PW = W + 2p, followed by kSlack zeros that the vector loads may read.
struct TapGeometry {
  int64_t C, k, stride, OH, OW, PH, PW;
};
inline constexpr int64_t kSlack = 64;

struct PooledSumKernels {
  const char* name;
  bool (*available)();
  // Whether the kernel computes this geometry, for inputs with
  // |x| <= 128 when int8_inputs, else any int16.
  bool (*handles)(const TapGeometry& g, bool int8_inputs);
  // One output channel: its pool errors e (OH/2, OW/2) routed by its ReLU
  // outputs y (OH, OW) to dy (OH, OW) (0 outside every window), then s
  // (C·k·k) = dy's tap sums on the padded input xp. plane: scratch of
  // plane_size(g) values. Returns Σ dy.
  int64_t (*sums_i8)(int64_t* s, const int16_t* e, const int8_t* y, const int16_t* xp, const TapGeometry& g,
                     int16_t* plane);
  int64_t (*sums_i16)(int64_t* s, const int16_t* e, const int16_t* y, const int16_t* xp, const TapGeometry& g,
                      int16_t* plane);
};

// The routed errors' scratch: OH rows of max(OW, 32) values.
inline int64_t plane_size(const TapGeometry& g) { return g.OH * (g.OW > 32 ? g.OW : 32); }

namespace detail {
extern const PooledSumKernels avx512_pooled_sums;  // conv2d_pooled_avx512.cpp
extern const PooledSumKernels scalar_pooled_sums;  // conv2d_pooled.cpp
}  // namespace detail

// Every implementation, the scalar reference last.
std::span<const PooledSumKernels> pooled_sum_kernels();
// The one conv2d_pooled_backward uses where it handles the geometry (else
// the scalar one).
const PooledSumKernels& chosen_pooled_sums();

}  // namespace conv2d_pooled

}  // namespace zimt
