#pragma once
// Pooling over NCHW int8 tensors (max pool also int16: the ResNet stem
// before int16-activation residual blocks, model.hpp).
//
// Max pool: square window `kernel`, `stride`, `padding` (padded positions
// never win: they act as -inf), OH = (H + 2p - k) / s + 1 (PyTorch's
// ceil_mode=False). Forward is exact (same exponents). Ties go to the FIRST
// maximum in row-major window order, and backward routes dout there; where
// windows overlap the contributions add in int64 and are requantised per
// sample to int16 (quant.hpp; exact unless a sum leaves int16).
//
// Global average pool: in (N,C,H,W) -> out (N,C). Forward: sum in int64,
// mean = round_half_even(sum·2^16 / (H·W)) on exponent exp - 16, then
// requantised per sample to int8. The input may be int16 (the output of a
// residual block with int16 activations, residual.hpp): the mean is taken
// on the int16 values, and the one int8 rounding is that of the result,
// which the fc layer's GEMM reads: to the NEAREST int8 (a mean below half a
// step becomes 0; pool.cpp says why). Backward: din = round_half_even(dout·2^16 /
// (H·W)) on exponent exp - 16, requantised per sample to int16.
#include <cstdint>

#include "zimt/tensor.hpp"

namespace zimt {

struct MaxPoolSpec {
  int64_t kernel = 2;
  int64_t stride = 2;
  int64_t padding = 0;
};

Shape maxpool_out_shape(const Shape& in, const MaxPoolSpec& spec);
void maxpool_forward(Act& out, const Act& in, const MaxPoolSpec& spec);
void maxpool_forward(Tensor<int16_t>& out, const Tensor<int16_t>& in, const MaxPoolSpec& spec);
void maxpool_backward(Err& din, const Err& dout, const Act& in, const MaxPoolSpec& spec);
void maxpool_backward(Err& din, const Err& dout, const Tensor<int16_t>& in, const MaxPoolSpec& spec);

Shape global_avgpool_out_shape(const Shape& in);
void global_avgpool_forward(Act& out, const Act& in);
void global_avgpool_forward(Act& out, const Tensor<int16_t>& in);
void global_avgpool_backward(Err& din, const Err& dout);

}  // namespace zimt
