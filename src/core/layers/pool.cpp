#include "zimt/layers/pool.hpp"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cassert>
#include <stdexcept>

#include "zimt/layers/max_2x2.hpp"
#include "zimt/layers/window_rows.hpp"
#include "zimt/numerics.hpp"
#include "zimt/quant.hpp"
#include "zimt/scratch.hpp"

namespace zimt {

namespace {

// Extra fractional bits kept when dividing by H·W in the average pool.
constexpr int kAvgFracBits = 16;

struct PoolGeometry {
  int64_t C, H, W, OH, OW;
};

PoolGeometry pool_geometry(const Shape& in, const MaxPoolSpec& s) {
  assert(in.rank == 4);
  return {in[1], in[2], in[3], (in[2] + 2 * s.padding - s.kernel) / s.stride + 1,
          (in[3] + 2 * s.padding - s.kernel) / s.stride + 1};
}

// The 2x2, stride 2, unpadded pool (the CNN's): windows tile the input
// exactly, so it runs on row kernels (max_2x2.hpp).
bool is_plain_2x2(const MaxPoolSpec& s) { return s.kernel == 2 && s.stride == 2 && s.padding == 0; }

// The general pool (any kernel, stride and padding <= kernel / 2) runs
// output row by output row on window-row kernels (window_rows.hpp).

// The input rows [lo, hi) of window row o within a column of height `size`
// (the window-row kernels find each window's columns themselves).
struct WindowSpan {
  int64_t lo, hi;
};
inline WindowSpan window_span(int64_t o, int64_t size, const MaxPoolSpec& s) {
  const int64_t first = o * s.stride - s.padding;
  return {std::max<int64_t>(first, 0), std::min(first + s.kernel, size)};
}

window_rows::Columns window_columns(const PoolGeometry& g, const MaxPoolSpec& s) {
  return {g.W, g.OW, s.kernel, s.stride, s.padding};
}

// The window-row kernels for an element type.
void max_row(int8_t* y, const int8_t* x, int64_t rows, const window_rows::Columns& c) {
  window_rows::chosen_row_kernels().max_i8(y, x, rows, c);
}
void max_row(int16_t* y, const int16_t* x, int64_t rows, const window_rows::Columns& c) {
  window_rows::chosen_row_kernels().max_i16(y, x, rows, c);
}
void first_max_row(int32_t* at, const int8_t* x, int64_t rows, const window_rows::Columns& c) {
  window_rows::chosen_row_kernels().first_max_i8(at, x, rows, c);
}
void first_max_row(int32_t* at, const int16_t* x, int64_t rows, const window_rows::Columns& c) {
  window_rows::chosen_row_kernels().first_max_i16(at, x, rows, c);
}

// y (C, OH, OW) = the maximum of each window of x (C, H, W), one sample.
template <class X>
void window_max_sample(X* y, const X* x, const PoolGeometry& g, const MaxPoolSpec& s) {
  const window_rows::Columns columns = window_columns(g, s);
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t oh = 0; oh < g.OH; ++oh) {
      const WindowSpan w = window_span(oh, g.H, s);
      max_row(y + (c * g.OH + oh) * g.OW, x + (c * g.H + w.lo) * g.W, w.hi - w.lo, columns);
    }
}

// f(o, i) for every window o of sample x (output order) and the index i
// (within the sample) of its FIRST maximum in row-major (kh, kw) order.
// X: int8_t or int16_t.
template <class X, class F>
void for_each_window_max(const X* x, const PoolGeometry& g, const MaxPoolSpec& s, F&& f) {
  const window_rows::Columns columns = window_columns(g, s);
  int32_t* at = thread_scratch<int32_t>(ScratchSlot::body1, g.OW);
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t oh = 0; oh < g.OH; ++oh) {
      const WindowSpan w = window_span(oh, g.H, s);
      const int64_t first = (c * g.H + w.lo) * g.W, out_row = (c * g.OH + oh) * g.OW;
      first_max_row(at, x + first, w.hi - w.lo, columns);
      for (int64_t ow = 0; ow < g.OW; ++ow) f(out_row + ow, first + at[ow]);
    }
}

}  // namespace

Shape maxpool_out_shape(const Shape& in, const MaxPoolSpec& spec) {
  const PoolGeometry g = pool_geometry(in, spec);
  assert(g.OH > 0 && g.OW > 0 && spec.padding * 2 <= spec.kernel);
  return Shape{in[0], g.C, g.OH, g.OW};
}

namespace {

// The plain 2x2 pool's row kernels (max_2x2.hpp) for an element type.
void forward_rows(int8_t* y, const int8_t* x, int64_t width, int64_t pairs) {
  max_2x2::chosen_row_kernels().forward_i8(y, x, width, pairs);
}
void forward_rows(int16_t* y, const int16_t* x, int64_t width, int64_t pairs) {
  max_2x2::chosen_row_kernels().forward_i16(y, x, width, pairs);
}
void backward_rows(int16_t* dx, const int16_t* dy, const int8_t* x, int64_t width, int64_t pairs, bool positive_only) {
  max_2x2::chosen_row_kernels().backward_i8(dx, dy, x, width, pairs, positive_only);
}
void backward_rows(int16_t* dx, const int16_t* dy, const int16_t* x, int64_t width, int64_t pairs, bool positive_only) {
  max_2x2::chosen_row_kernels().backward_i16(dx, dy, x, width, pairs, positive_only);
}

// The plain 2x2 pool of one sample: y (C,OH,OW) = the max of each window of
// x (C,H,W); one kernel call for the whole sample where H is even (every
// row pair then lies at stride 2·W), else one per channel.
template <class X>
void max_2x2_sample(X* y, const X* x, const PoolGeometry& g) {
  if (g.H % 2 == 0) return forward_rows(y, x, g.W, g.C * g.OH);
  for (int64_t c = 0; c < g.C; ++c) forward_rows(y + c * g.OH * g.OW, x + c * g.H * g.W, g.W, g.OH);
}

// The plain 2x2 pool's backward for one sample: each window's dy goes to its
// first maximum in (kh, kw) order (for_each_window_max's rule), the window's other
// three inputs get 0; inputs outside every window (an odd last row or
// column) get 0 too. With positive_only, a window passes dy only if its maximum is > 0.
template <class X>
void max_2x2_backward_sample(int16_t* dx, const int16_t* dy, const X* x, const PoolGeometry& g, bool positive_only) {
  if (g.H % 2 != 0 || g.W % 2 != 0) std::fill(dx, dx + g.C * g.H * g.W, int16_t{0});
  if (g.H % 2 == 0) return backward_rows(dx, dy, x, g.W, g.C * g.OH, positive_only);
  for (int64_t c = 0; c < g.C; ++c) {
    const int64_t plane = c * g.H * g.W;
    backward_rows(dx + plane, dy + c * g.OH * g.OW, x + plane, g.W, g.OH, positive_only);
  }
}

// in (N,C,H,W) -> out (N,C,OH,OW); X: int8_t or int16_t.
template <class X>
void max_forward(Tensor<X>& out, const Tensor<X>& in, const MaxPoolSpec& spec) {
  const PoolGeometry g = pool_geometry(in.shape, spec);
  assert(out.shape == maxpool_out_shape(in.shape, spec));
  const bool plain = is_plain_2x2(spec);
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, in.batch()), [&](const tbb::blocked_range<int64_t>& r) {
    for (int64_t n = r.begin(); n < r.end(); ++n) {
      const X* x = in.sample(n);
      X* y = out.sample(n);
      if (plain)
        max_2x2_sample(y, x, g);
      else
        window_max_sample(y, x, g, spec);
      out.exp[n] = in.exp[n];
    }
  });
}

// dout (N,C,OH,OW), in (N,C,H,W) -> din (N,C,H,W); each input's window
// errors are summed in A (int32_t or int64_t, wide enough for the overlap).
// relu_mask (disjoint windows only): a window passes its error only if its
// maximum is > 0.
template <class A, class X>
void max_backward(Err& din, const Err& dout, const Tensor<X>& in, const MaxPoolSpec& spec, bool relu_mask) {
  const PoolGeometry g = pool_geometry(in.shape, spec);
  assert(din.shape == in.shape && dout.shape == maxpool_out_shape(in.shape, spec));
  const bool disjoint = maxpool_folds_relu(spec);  // windows do not overlap
  assert(disjoint || !relu_mask);
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, in.batch()), [&](const tbb::blocked_range<int64_t>& r) {
    A* acc = thread_scratch<A>(ScratchSlot::body0, disjoint ? 0 : in.sample_numel());  // window sums
    for (int64_t n = r.begin(); n < r.end(); ++n) {
      const X* x = in.sample(n);
      const int16_t* dy = dout.sample(n);
      if (is_plain_2x2(spec)) {
        max_2x2_backward_sample(din.sample(n), dy, x, g, relu_mask);
        din.exp[n] = dout.exp[n];
        continue;
      }
      if (disjoint) {
        // Windows do not overlap: every input gets at most one dout entry,
        // which fits int16 as it is (what requantize_i16 would return).
        int16_t* dx = din.sample(n);
        std::fill(dx, dx + in.sample_numel(), int16_t{0});
        for_each_window_max(x, g, spec, [&](int64_t o, int64_t i) {
          if (!relu_mask || x[i] > 0) dx[i] = dy[o];
        });
        din.exp[n] = dout.exp[n];
        continue;
      }
      std::fill(acc, acc + in.sample_numel(), A{0});
      for_each_window_max(x, g, spec, [&](int64_t o, int64_t i) { acc[i] += dy[o]; });
      din.exp[n] = requantize_i16(acc, in.sample_numel(), dout.exp[n], din.sample(n));
    }
  });
}

// At most ceil(kernel / stride)^2 windows share an input, each adding
// |dy| <= 2^15: below 2^16 of them, int32 sums are exact.
bool int32_window_sums(const MaxPoolSpec& s) {
  const int64_t per_dim = (s.kernel + s.stride - 1) / s.stride;
  return per_dim * per_dim < (int64_t{1} << 16);
}

}  // namespace

void maxpool_forward(const Activation& out, const Activation& in, const MaxPoolSpec& spec) {
  assert(out.width == in.width);
  visit(in, [&](auto x) {
    auto y = out.as<element_of<decltype(x)>>();
    max_forward(y, x, spec);
  });
}

bool maxpool_folds_relu(const MaxPoolSpec& spec) { return spec.stride >= spec.kernel; }

void maxpool_backward(Err& din, const Err& dout, const Activation& in, const MaxPoolSpec& spec, bool relu_mask) {
  if (relu_mask && !maxpool_folds_relu(spec))
    throw std::invalid_argument("maxpool_backward: only disjoint windows fold a ReLU's mask");
  visit(in, [&](auto x) {
    if (int32_window_sums(spec))
      max_backward<int32_t>(din, dout, x, spec, relu_mask);
    else
      max_backward<int64_t>(din, dout, x, spec, relu_mask);
  });
}

Shape global_avgpool_out_shape(const Shape& in) {
  assert(in.rank == 4);
  return Shape{in[0], in[1]};
}

namespace {

// in (N,C,H,W) -> out (N,C); X: int8_t or int16_t. The means are rounded to
// int8 by requantize_i8 (keep_sign) or requantize_i8_nearest (quant.hpp).
// |sum| < 2^15·H·W and H·W < 2^31 (asserted), so sum·2^16 < 2^62: exact in
// int64.
template <class X>
void avgpool_forward(Act out, const Tensor<X>& in, Rounding rounding) {
  assert(out.shape == global_avgpool_out_shape(in.shape));
  const int64_t C = in.shape[1], HW = in.shape[2] * in.shape[3];
  assert(HW < (int64_t{1} << 31));
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, in.batch()), [&](const tbb::blocked_range<int64_t>& r) {
    int64_t* mean = thread_scratch<int64_t>(ScratchSlot::body0, C);
    for (int64_t n = r.begin(); n < r.end(); ++n) {
      const X* x = in.sample(n);
      for (int64_t c = 0; c < C; ++c) {
        int64_t s = 0;
        for (int64_t i = 0; i < HW; ++i) s += x[c * HW + i];
        mean[c] = div_round_even(s * (int64_t{1} << kAvgFracBits), HW);
      }
      const int32_t e = in.exp[n] - kAvgFracBits;
      if (rounding == Rounding::keep_sign)
        out.exp[n] = requantize_i8(mean, C, e, out.sample(n));
      else
        out.exp[n] = requantize_i8_nearest(mean, C, e, out.sample(n));
    }
  });
}

}  // namespace

void global_avgpool_forward(const Activation& out, const Activation& in, Rounding rounding) {
  visit(in, [&](auto x) { avgpool_forward(out.as<int8_t>(), x, rounding); });
}

// dout (N,C) -> din (N,C,H,W): every position gets dout / (H·W)
void global_avgpool_backward(Err& din, const Err& dout) {
  assert(dout.shape == global_avgpool_out_shape(din.shape));
  const int64_t C = din.shape[1], HW = din.shape[2] * din.shape[3];
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, din.batch()), [&](const tbb::blocked_range<int64_t>& r) {
    int64_t* share = thread_scratch<int64_t>(ScratchSlot::body0, C * HW);
    for (int64_t n = r.begin(); n < r.end(); ++n) {
      const int16_t* dy = dout.sample(n);
      for (int64_t c = 0; c < C; ++c) {
        const int64_t v = div_round_even(int64_t{dy[c]} * (int64_t{1} << kAvgFracBits), HW);
        for (int64_t i = 0; i < HW; ++i) share[c * HW + i] = v;
      }
      din.exp[n] = requantize_i16(share, C * HW, dout.exp[n] - kAvgFracBits, din.sample(n));
    }
  });
}

}  // namespace zimt
