#pragma once
// 2-D convolution, NCHW, square kernel, zero padding (im2col + gemm_nt).
//   in (N,C,H,W) int8, out (N,O,OH,OW) int8, OH = (H + 2p - k) / s + 1,
//   or in int16 (the int16 activations of residual blocks, residual.hpp:
//   the same code, gemm_nt's exact int16 x int16 kernel),
//   W (O,C,k,k) and b (O) in ParamSet.
// Forward: acc = Σ x·w exact on exponent exp_in[n] + w_exp (int32 where the
// actual maxima bound every sum below 2^31, else int64: the same integers);
// the bias
// b·2^b_exp joins on common_exponent (quant.hpp: exact in all but absurd
// scale gaps); then requantised per sample to int8 (quant.hpp), or to int16
// where a LayerNorm, not a GEMM, reads the output (residual.hpp: the signs of
// the normalised values, i.e. the next ReLU's mask, come from a 2^8 times
// finer rounding).
// Backward: din exact (int32 or int64 as above), requantised per sample to
// int16: for stride 1 the convolution of dout with W flipped in both
// directions and its channel axes swapped (padding k-1-p), else
// col2im(Wᵀ·dout); dW = Σ_n dout_n·col_nᵀ, db = Σ_n Σ_p dout_n, exact int64 with
// align_batch (quant.hpp).
// GEMM shapes: a layer with few output positions P (ResNet-18's deep layers,
// P = 1..16) runs the forward and input-error GEMMs on groups of samples
// (their positions concatenated), and dW on runs of samples that share an
// align_batch shift; the integer results are the per-sample ones exactly.
#include <cstddef>
#include <cstdint>

#include "zimt/batch_reducer.hpp"
#include "zimt/param.hpp"
#include "zimt/tensor.hpp"

namespace zimt {

struct Conv2dSpec {
  int64_t in_channels = 0;
  int64_t out_channels = 0;
  int64_t kernel = 3;
  int64_t stride = 1;
  int64_t padding = 0;
  size_t weight = 0;  // ParamSet tensor index, shape (out_channels, in_channels, kernel, kernel)
  bool has_bias = false;
  size_t bias = 0;  // ParamSet tensor index, shape (out_channels); used if has_bias
};

Shape conv2d_out_shape(const Shape& in, const Conv2dSpec& spec);
// The live-tap weights of a convolution whose image leaves some taps on
// padding only (ResNet-18's last stage on MNIST: 1 of 9): int16 entries,
// 0 where every tap reads the image. Forward gathers them from W; a caller
// that keeps them (live_weights below) spares backward reading all of W
// again: on a square image the flipped filter of the input error is
// formed from them.
int64_t conv2d_live_weights_size(const Shape& in, const Conv2dSpec& spec);
// in and out: int8 or int16, any pair. relu: out = max(0, the convolution),
// applied per sample as it is written (the same bits as relu_forward after).
// live_weights: nullptr, or conv2d_live_weights_size entries that receive
// the live-tap weights.
void conv2d_forward(const Activation& out, const Activation& in, const ParamSet& params, const Conv2dSpec& spec,
                    bool relu = false, int16_t* live_weights = nullptr);
// din may be nullptr. Overwrites the gradients of spec.weight (and spec.bias)
// with this process's share of the batch sum, aligned over the whole batch
// that `reducer` spans (batch_reducer.hpp). live_weights: nullptr, or what
// forward wrote there for the same weights; the result is the same.
void conv2d_backward(Err* din, const Err& dout, const Activation& in, ParamSet& params, const Conv2dSpec& spec,
                     const BatchReducer& reducer = single_process(), const int16_t* live_weights = nullptr);

}  // namespace zimt
