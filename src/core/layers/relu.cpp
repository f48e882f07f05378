#include "zimt/layers/relu.hpp"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <cassert>

namespace zimt {

// in, out: any shape (N,...)
void relu_forward(Act& out, const Act& in) {
  assert(out.shape == in.shape);
  const int64_t m = in.sample_numel();
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, in.batch()), [&](const tbb::blocked_range<int64_t>& r) {
    for (int64_t n = r.begin(); n < r.end(); ++n) {
      const int8_t* x = in.sample(n);
      int8_t* y = out.sample(n);
      for (int64_t i = 0; i < m; ++i) y[i] = x[i] > 0 ? x[i] : int8_t{0};
      out.exp[n] = in.exp[n];
    }
  });
}

// dout, out (the forward output), din: same shape
void relu_backward(Err& din, const Err& dout, const Act& out) {
  assert(din.shape == dout.shape && dout.shape == out.shape);
  const int64_t m = out.sample_numel();
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, out.batch()), [&](const tbb::blocked_range<int64_t>& r) {
    for (int64_t n = r.begin(); n < r.end(); ++n) {
      const int8_t* __restrict y = out.sample(n);
      const int16_t* __restrict dy = dout.sample(n);
      int16_t* __restrict dx = din.sample(n);  // may not alias: lets the loop vectorise
      for (int64_t i = 0; i < m; ++i) dx[i] = y[i] > 0 ? dy[i] : int16_t{0};
      din.exp[n] = dout.exp[n];
    }
  });
}

}  // namespace zimt
