// conv2d_pooled_backward (conv2d_pooled.hpp) and its scalar tap sums.
#include "zimt/layers/conv2d_pooled.hpp"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cassert>

#include "conv2d_batch_sums.hpp"
#include "row_kernel_choice.hpp"
#include "zimt/layers/max_2x2.hpp"
#include "zimt/quant.hpp"
#include "zimt/scratch.hpp"

namespace zimt {

namespace conv2d_pooled {

namespace {

bool always() { return true; }
bool any_geometry(const TapGeometry&, bool) { return true; }

// The reference: the scalar row kernels route (rows of OW values), then
// every nonzero error adds its patch.
template <class Y>
int64_t pooled_sums_scalar(int64_t* s, const int16_t* e, const Y* y, const int16_t* xp, const TapGeometry& g,
                           int16_t* plane) {
  const max_2x2::RowKernels& rows = max_2x2::detail::scalar_row_kernels;
  const int64_t k = g.k, QH = g.OH / 2;
  std::fill(plane, plane + g.OH * g.OW, int16_t{0});  // an odd last row or column stays 0
  if constexpr (sizeof(Y) == 1)
    rows.backward_i8(plane, e, y, g.OW, QH, true);
  else
    rows.backward_i16(plane, e, y, g.OW, QH, true);
  std::fill(s, s + g.C * k * k, int64_t{0});
  int64_t sum = 0;
  for (int64_t oh = 0; oh < g.OH; ++oh)
    for (int64_t ow = 0; ow < g.OW; ++ow) {
      const int64_t d = plane[oh * g.OW + ow];
      if (d == 0) continue;  // three in four at least: the windows' other inputs
      sum += d;
      const int16_t* patch = xp + oh * g.stride * g.PW + ow * g.stride;
      for (int64_t c = 0; c < g.C; ++c)
        for (int64_t kh = 0; kh < k; ++kh)
          for (int64_t kw = 0; kw < k; ++kw) s[(c * k + kh) * k + kw] += d * patch[(c * g.PH + kh) * g.PW + kw];
    }
  return sum;
}

}  // namespace

namespace detail {
constinit const PooledSumKernels scalar_pooled_sums{"scalar", &always, &any_geometry, &pooled_sums_scalar<int8_t>,
                                                    &pooled_sums_scalar<int16_t>};
}  // namespace detail

using Choice = zimt::detail::RowKernelChoice<PooledSumKernels, detail::avx512_pooled_sums, detail::scalar_pooled_sums>;
std::span<const PooledSumKernels> pooled_sum_kernels() { return Choice::all(); }
const PooledSumKernels& chosen_pooled_sums() { return Choice::chosen(); }

}  // namespace conv2d_pooled

namespace {

using conv2d_pooled::TapGeometry;

// The chosen kernel's entry for the pool input's type.
int64_t pooled_sums(const conv2d_pooled::PooledSumKernels& kernel, int64_t* s, const int16_t* e, const int8_t* y,
                    const int16_t* xp, const TapGeometry& g, int16_t* plane) {
  return kernel.sums_i8(s, e, y, xp, g, plane);
}
int64_t pooled_sums(const conv2d_pooled::PooledSumKernels& kernel, int64_t* s, const int16_t* e, const int16_t* y,
                    const int16_t* xp, const TapGeometry& g, int16_t* plane) {
  return kernel.sums_i16(s, e, y, xp, g, plane);
}

// One sample's input x (C,H,W) padded by p into int16 planes (C, PH, PW),
// then kSlack zeros.
template <class X>
void pad_to_int16(const X* x, int64_t H, int64_t W, int64_t p, const TapGeometry& g, int16_t* xp) {
  std::fill(xp, xp + g.C * g.PH * g.PW + conv2d_pooled::kSlack, int16_t{0});
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t h = 0; h < H; ++h) std::copy_n(x + (c * H + h) * W, W, xp + (c * g.PH + h + p) * g.PW + p);
}

// X, Y: the convolution's input and output element types.
template <class X, class Y>
void pooled_backward(const Err& dpool, const Tensor<Y>& y, const Tensor<X>& in, ParamSet& params,
                     const Conv2dSpec& spec, const BatchReducer& reducer) {
  const int64_t batch = in.batch(), O = spec.out_channels, H = in.shape[2], W = in.shape[3], p = spec.padding;
  const TapGeometry g{spec.in_channels, spec.kernel, spec.stride, y.shape[2], y.shape[3], H + 2 * p, W + 2 * p};
  const int64_t QH = dpool.shape[2], QW = dpool.shape[3], K = g.C * g.k * g.k, P = g.OH * g.OW;
  assert(y.shape == conv2d_out_shape(in.shape, spec) && y.shape[1] == O);
  assert(dpool.shape == maxpool_out_shape(y.shape, MaxPoolSpec{2, 2, 0}));

  int32_t* w_shift = thread_scratch<int32_t>(ScratchSlot::caller0, batch);
  params.tensors[spec.weight].g_exp = detail::conv2d_weight_shifts<X>(
      dpool.exp, in.exp, batch, P, thread_scratch<int32_t>(ScratchSlot::caller2, batch), w_shift, reducer);
  int32_t* b_shift = thread_scratch<int32_t>(ScratchSlot::caller1, batch);
  if (spec.has_bias)
    params.tensors[spec.bias].g_exp = detail::conv2d_bias_shifts(dpool.exp, batch, P, b_shift, reducer);

  const conv2d_pooled::PooledSumKernels& chosen = conv2d_pooled::chosen_pooled_sums();
  const conv2d_pooled::PooledSumKernels& kernel =
      chosen.handles(g, sizeof(X) == 1) ? chosen : conv2d_pooled::detail::scalar_pooled_sums;
  // Each chunk of samples sums into (O,K) and (O) totals of its own, added
  // at the end: integer sums, the same for any number of chunks.
  const int64_t threads = detail::usable_threads();
  const int64_t chunks = std::clamp<int64_t>(threads, 1, std::max<int64_t>(batch, 1));
  const int64_t per_chunk = O * K + O;
  int64_t* totals = thread_scratch<int64_t>(ScratchSlot::caller3, chunks * per_chunk);
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, chunks, 1), [&](const tbb::blocked_range<int64_t>& r) {
    int16_t* xp = thread_scratch<int16_t>(ScratchSlot::body0, g.C * g.PH * g.PW + conv2d_pooled::kSlack);
    int16_t* plane = thread_scratch<int16_t>(ScratchSlot::body1, conv2d_pooled::plane_size(g));
    int64_t* s = thread_scratch<int64_t>(ScratchSlot::body2, K);
    for (int64_t c = r.begin(); c < r.end(); ++c) {
      int64_t* total_w = totals + c * per_chunk;
      int64_t* total_b = total_w + O * K;
      std::fill(total_w, total_w + per_chunk, int64_t{0});
      for (int64_t n = c * batch / chunks; n < (c + 1) * batch / chunks; ++n) {
        pad_to_int16(in.sample(n), H, W, p, g, xp);
        for (int64_t o = 0; o < O; ++o) {
          const int64_t sum = pooled_sums(kernel, s, dpool.sample(n) + o * QH * QW, y.sample(n) + o * P, xp, g, plane);
          for (int64_t kk = 0; kk < K; ++kk) total_w[o * K + kk] += apply_shift(s[kk], w_shift[n]);
          if (spec.has_bias) total_b[o] += apply_shift(sum, b_shift[n]);
        }
      }
    }
  });
  int64_t* gw = params.grads(spec.weight);
  int64_t* gb = spec.has_bias ? params.grads(spec.bias) : nullptr;
  for (int64_t i = 0; i < per_chunk; ++i) {
    int64_t sum = 0;
    for (int64_t c = 0; c < chunks; ++c) sum += totals[c * per_chunk + i];
    if (i < O * K)
      gw[i] = sum;
    else if (gb != nullptr)
      gb[i - O * K] = sum;
  }
}

}  // namespace

bool conv2d_pooled_applies(const Conv2dSpec&, const MaxPoolSpec& pool) {
  return pool.kernel == 2 && pool.stride == 2 && pool.padding == 0;
}

void conv2d_pooled_backward(const Err& dpool, const Activation& y, const Activation& in, ParamSet& params,
                            const Conv2dSpec& conv, const BatchReducer& reducer) {
  visit(y, in, [&](auto yt, auto x) { pooled_backward(dpool, yt, x, params, conv, reducer); });
}

}  // namespace zimt
