#include "zimt/layers/relu.hpp"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <cassert>

namespace zimt {

namespace {

// One sample each, as functions of plain pointers and a count held by value:
// inside the lambdas below the count is read through a reference that an
// int8 store may alias, which kept GCC from vectorising the loops.
// X: int8_t or int16_t.
template <class X>
void relu_sample(X* __restrict y, const X* __restrict x, int64_t m) {
  for (int64_t i = 0; i < m; ++i) y[i] = x[i] > 0 ? x[i] : X{0};
}

template <class X>
void relu_in_place_sample(X* y, int64_t m) {
  for (int64_t i = 0; i < m; ++i) y[i] = y[i] > 0 ? y[i] : X{0};
}

template <class X>
void relu_mask_sample(int16_t* __restrict dx, const int16_t* __restrict dy, const X* __restrict y, int64_t m) {
  for (int64_t i = 0; i < m; ++i) {
    const int16_t keep = static_cast<int16_t>(-static_cast<int16_t>(y[i] > 0));  // all ones where y > 0
    dx[i] = static_cast<int16_t>(dy[i] & keep);
  }
}

// in, out: any shape (N,...)
template <class X>
void forward(Tensor<X>& out, const Tensor<X>& in) {
  assert(out.shape == in.shape);
  const int64_t m = in.sample_numel();
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, in.batch()), [&](const tbb::blocked_range<int64_t>& r) {
    for (int64_t n = r.begin(); n < r.end(); ++n) {
      relu_sample(out.sample(n), in.sample(n), m);
      out.exp[n] = in.exp[n];
    }
  });
}

// dout, out (the forward output), din: same shape
template <class X>
void backward(Err& din, const Err& dout, const Tensor<X>& out) {
  assert(din.shape == dout.shape && dout.shape == out.shape);
  const int64_t m = out.sample_numel();
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, out.batch()), [&](const tbb::blocked_range<int64_t>& r) {
    for (int64_t n = r.begin(); n < r.end(); ++n) {
      relu_mask_sample(din.sample(n), dout.sample(n), out.sample(n), m);
      din.exp[n] = dout.exp[n];
    }
  });
}

}  // namespace

void relu_forward(const Activation& out, const Activation& in) {
  assert(out.width == in.width);
  visit(in, [&](auto x) {
    auto y = out.as<element_of<decltype(x)>>();
    forward(y, x);
  });
}

void relu_backward(Err& din, const Err& dout, const Activation& out) {
  visit(out, [&](auto y) { backward(din, dout, y); });
}

void relu_in_place(int8_t* y, int64_t count) { relu_in_place_sample(y, count); }
void relu_in_place(int16_t* y, int64_t count) { relu_in_place_sample(y, count); }

}  // namespace zimt
