#pragma once
// Flatten (N,C,H,W) -> (N, C·H·W). Storage is row-major, so this is a copy
// of the mantissas and exponents (exact); reshaped() in tensor.hpp gives the
// same thing as a view when no separate output is wanted.
#include "zimt/tensor.hpp"

namespace zimt {

Shape flatten_out_shape(const Shape& in);
// out: the width of in.
void flatten_forward(const Activation& out, const Activation& in);
void flatten_backward(Err& din, const Err& dout);

}  // namespace zimt
