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
// Where windows are disjoint (stride >= kernel) and the input is a ReLU's
// output, backward can apply that ReLU's mask too (relu_mask: a window whose
// maximum is 0 passes 0), the same bits as the ReLU's own backward after it,
// so the model skips that pass. Overlapping windows do not fold it: their
// sums are requantised before the ReLU masks them.
//
// Global average pool: in (N,C,H,W) -> out (N,C). Forward: sum in int64,
// mean = round_half_even(sum·2^16 / (H·W)) on exponent exp - 16, then
// requantised per sample to int8 with the caller's Rounding (tensor.hpp).
// The input may be int16 (the output of a residual block with int16
// activations, residual.hpp): the mean is taken on the int16 values, and the
// one int8 rounding is that of the result. The model's width pass picks
// Rounding::nearest there and keep_sign after int8 inputs (model.hpp; why:
// docs/design.md, "Rounding"). Backward: din = round_half_even(dout·2^16 /
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
// out: the width of in.
void maxpool_forward(const Activation& out, const Activation& in, const MaxPoolSpec& spec);
// Whether backward can fold the mask of a ReLU before the pool (disjoint windows).
bool maxpool_folds_relu(const MaxPoolSpec& spec);
void maxpool_backward(Err& din, const Err& dout, const Activation& in, const MaxPoolSpec& spec, bool relu_mask = false);

Shape global_avgpool_out_shape(const Shape& in);
// out int8, in int8 or int16; `rounding` rounds the means to int8.
void global_avgpool_forward(const Activation& out, const Activation& in, Rounding rounding);
void global_avgpool_backward(Err& din, const Err& dout);

}  // namespace zimt
