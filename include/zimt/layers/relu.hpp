#pragma once
// ReLU on any shape. Forward: out = max(in, 0), same exponents (exact).
// Backward: din = dout where out > 0, else 0 (the gradient at 0 is 0, so a
// unit that outputs exactly 0 never receives a gradient: docs/design.md, "Update rules").
// int8 or int16 (the ResNet stem before int16-activation blocks, model.hpp).
#include "zimt/tensor.hpp"

namespace zimt {

// out: the width and shape of in.
void relu_forward(const Activation& out, const Activation& in);
// out: the forward's output (its sign is the mask).
void relu_backward(Err& din, const Err& dout, const Activation& out);

// y = max(y, 0) on `count` values in place: a layer that applies the ReLU
// after it to its own output, one sample at a time while it is in cache
// (conv2d and linear forward, model.cpp).
void relu_in_place(int8_t* y, int64_t count);
void relu_in_place(int16_t* y, int64_t count);

}  // namespace zimt
