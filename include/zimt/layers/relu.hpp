#pragma once
// ReLU on any shape. Forward: out = max(in, 0), same exponents (exact).
// Backward: din = dout where out > 0, else 0 (the gradient at 0 is 0, so a
// unit that outputs exactly 0 never receives a gradient: ZIM.md §3).
// int8 or int16 (the ResNet stem before int16-activation blocks, model.hpp).
#include "zimt/tensor.hpp"

namespace zimt {

void relu_forward(Act& out, const Act& in);
void relu_forward(Tensor<int16_t>& out, const Tensor<int16_t>& in);
void relu_backward(Err& din, const Err& dout, const Act& out);
void relu_backward(Err& din, const Err& dout, const Tensor<int16_t>& out);

}  // namespace zimt
