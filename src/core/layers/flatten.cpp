#include "zimt/layers/flatten.hpp"

#include <cassert>
#include <cstring>

namespace zimt {

Shape flatten_out_shape(const Shape& in) { return Shape{in[0], in.sample_numel()}; }

namespace {
template <class T>
void copy_tensor(Tensor<T>& dst, const Tensor<T>& src) {
  assert(dst.numel() == src.numel() && dst.batch() == src.batch());
  std::memcpy(dst.data, src.data, static_cast<size_t>(src.numel()) * sizeof(T));
  std::memcpy(dst.exp, src.exp, static_cast<size_t>(src.batch()) * sizeof(int32_t));
}
}  // namespace

// in (N,C,H,W) -> out (N,C·H·W), the same width
void flatten_forward(const Activation& out, const Activation& in) {
  assert(out.width == in.width);
  visit(in, [&](auto x) {
    auto y = out.as<element_of<decltype(x)>>();
    copy_tensor(y, x);
  });
}

// dout (N,C·H·W) -> din (N,C,H,W)
void flatten_backward(Err& din, const Err& dout) { copy_tensor(din, dout); }

}  // namespace zimt
