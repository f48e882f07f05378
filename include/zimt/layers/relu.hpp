#pragma once
// ReLU on any shape. Forward: out = max(in, 0), same exponents (exact).
// Backward: din = dout where out > 0, else 0 (the gradient at 0 is 0, so a
// unit that outputs exactly 0 never receives a gradient: ZIM.md §3).
#include "zimt/tensor.hpp"

namespace zimt {

void relu_forward(Act& out, const Act& in);
void relu_backward(Err& din, const Err& dout, const Act& out);

}  // namespace zimt
