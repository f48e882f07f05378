#pragma once
// Flatten (N,C,H,W) -> (N, C·H·W). Storage is row-major, so this is a copy
// of the mantissas and exponents (exact); reshaped() in tensor.hpp gives the
// same thing as a view when no separate output is wanted.
#include "zimt/tensor.hpp"

namespace zimt {

Shape flatten_out_shape(const Shape& in);
void flatten_forward(Act& out, const Act& in);
void flatten_forward(Tensor<int16_t>& out, const Tensor<int16_t>& in);
void flatten_backward(Err& din, const Err& dout);

}  // namespace zimt
