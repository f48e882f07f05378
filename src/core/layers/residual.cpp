#include "zimt/layers/residual.hpp"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cassert>

#include "zimt/layers/layernorm.hpp"
#include "zimt/layers/relu.hpp"
#include "zimt/numerics.hpp"
#include "zimt/quant.hpp"
#include "zimt/scratch.hpp"

namespace zimt {

namespace {

Conv2dSpec conv(ParamSet& params, const std::string& name, int64_t in, int64_t out, int64_t kernel, int64_t stride,
                int64_t padding) {
  Conv2dSpec c;
  c.in_channels = in;
  c.out_channels = out;
  c.kernel = kernel;
  c.stride = stride;
  c.padding = padding;
  c.weight = params.add(name, {out, in, kernel, kernel}, ParamKind::weight);
  return c;
}

// out = a + b per sample, requantised to int16; B is int8_t or int16_t.
template <class B>
void add_samples(Tensor<int16_t>& out, const Tensor<int16_t>& a, const Tensor<B>& b) {
  assert(a.shape == b.shape && out.shape == a.shape);
  constexpr int b_bits = sizeof(B) == 1 ? 8 : 16;  // |mantissa| < 2^bits
  const int64_t m = a.sample_numel();
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, a.batch()), [&](const tbb::blocked_range<int64_t>& r) {
    int64_t* acc = thread_scratch<int64_t>(ScratchSlot::body0, m);
    for (int64_t n = r.begin(); n < r.end(); ++n) {
      const int32_t e = common_exponent(a.exp[n], 16, b.exp[n], b_bits);
      const int32_t sa = a.exp[n] - e, sb = b.exp[n] - e;
      const int16_t* pa = a.sample(n);
      const B* pb = b.sample(n);
      for (int64_t i = 0; i < m; ++i) acc[i] = apply_shift(pa[i], sa) + apply_shift(pb[i], sb);
      out.exp[n] = requantize_i16(acc, m, e, out.sample(n));
    }
  });
}

// out = relu(in) requantised to int8 per sample: the exponent of the max
// rule (quant.hpp), values rounded half-even to the NEAREST int8, so a
// positive value below half a step becomes 0 (not 1 step as quant.hpp's
// sign-keeping rounding would make it). The ReLU mask of the backward pass
// does not come from out but from the int16 pre-activation (block_backward).
void relu_to_i8(Act& out, const Tensor<int16_t>& in) {
  assert(out.shape == in.shape);
  const int64_t m = in.sample_numel();
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, in.batch()), [&](const tbb::blocked_range<int64_t>& r) {
    for (int64_t n = r.begin(); n < r.end(); ++n) {
      const int16_t* x = in.sample(n);
      int64_t max = 0;
      for (int64_t i = 0; i < m; ++i) max = std::max<int64_t>(max, x[i]);
      const int s = shift_to_fit(static_cast<uint64_t>(max), 127);  // max >= 0
      int8_t* y = out.sample(n);
      for (int64_t i = 0; i < m; ++i) y[i] = static_cast<int8_t>(x[i] > 0 ? shift_round_even(x[i], s) : 0);
      out.exp[n] = in.exp[n] + s;
    }
  });
}

// relu(in) into a1 or the block output: int8 by relu_to_i8 (Rounding::nearest,
// docs/design.md, "Rounding"), int16 exactly (same mantissas where
// positive, same exponents).
void relu_to(Act& out, const Tensor<int16_t>& in) { relu_to_i8(out, in); }
void relu_to(Tensor<int16_t>& out, const Tensor<int16_t>& in) { relu_forward(out, in); }

}  // namespace

BasicBlockSpec add_basic_block(ParamSet& params, const std::string& name, int64_t in_channels, int64_t out_channels,
                               int64_t stride, bool int16_activations) {
  BasicBlockSpec s;
  s.int16_activations = int16_activations;
  s.conv1 = conv(params, name + ".conv1.weight", in_channels, out_channels, 3, stride, 1);
  s.conv2 = conv(params, name + ".conv2.weight", out_channels, out_channels, 3, 1, 1);
  s.has_projection = stride != 1 || in_channels != out_channels;
  if (s.has_projection)
    s.projection = conv(params, name + ".downsample.0.weight", in_channels, out_channels, 1, stride, 0);
  return s;
}

Shape basic_block_out_shape(const Shape& in, const BasicBlockSpec& spec) { return conv2d_out_shape(in, spec.conv1); }

void add_i16(Tensor<int16_t>& out, const Tensor<int16_t>& a, const Tensor<int16_t>& b) { add_samples(out, a, b); }
void add_i16(Tensor<int16_t>& out, const Tensor<int16_t>& a, const Act& b) { add_samples(out, a, b); }

namespace {

// in (N,C,H,W) -> out (N,O,OH,OW); X (input) and Y (a1 and the output):
// int8_t or int16_t, Y as spec.int16_activations says.
template <class X, class Y>
void block_forward(Tensor<Y>& out, BasicBlockActs& acts, const Tensor<X>& in, const ParamSet& params,
                   const BasicBlockSpec& spec, Arena& arena) {
  static_assert(sizeof(X) <= sizeof(Y), "an int8-activation block never reads int16 inputs");
  const Shape s = basic_block_out_shape(in.shape, spec);
  assert(out.shape == s && spec.int16_activations == (sizeof(Y) == 2));
  acts.h1 = make_tensor<int16_t>(arena, s);
  acts.n1 = make_tensor<int16_t>(arena, s);
  Tensor<Y> a1 = make_tensor<Y>(arena, s);
  acts.a1 = a1;
  acts.h2 = make_tensor<int16_t>(arena, s);
  acts.n2 = make_tensor<int16_t>(arena, s);
  acts.sum = make_tensor<int16_t>(arena, s);
  auto live = [&](const Shape& conv_in, const Conv2dSpec& conv) {
    const int64_t size = conv2d_live_weights_size(conv_in, conv);
    return size == 0 ? nullptr : arena.alloc<int16_t>(static_cast<size_t>(size));
  };
  acts.live1 = live(in.shape, spec.conv1);
  acts.live2 = live(s, spec.conv2);
  conv2d_forward(acts.h1, in, params, spec.conv1, false, acts.live1);
  layernorm_forward(acts.n1, acts.h1);
  relu_to(a1, acts.n1);
  conv2d_forward(acts.h2, a1, params, spec.conv2, false, acts.live2);
  layernorm_forward(acts.n2, acts.h2);
  if (spec.has_projection) {
    acts.hp = make_tensor<int16_t>(arena, s);
    acts.np = make_tensor<int16_t>(arena, s);
    acts.live_projection = live(in.shape, spec.projection);
    conv2d_forward(acts.hp, in, params, spec.projection, false, acts.live_projection);
    layernorm_forward(acts.np, acts.hp);
    add_i16(acts.sum, acts.n2, acts.np);
  } else {
    add_i16(acts.sum, acts.n2, in);
  }
  relu_to(out, acts.sum);
}

// dout (N,O,OH,OW) -> din (N,C,H,W); X: the block input's element type.
template <class X>
void block_backward(Err* din, const Err& dout, const Tensor<X>& in, const BasicBlockActs& acts, ParamSet& params,
                    const BasicBlockSpec& spec, Arena& arena, const BatchReducer& reducer) {
  const Shape s = dout.shape;
  Err dsum = make_tensor<int16_t>(arena, s);
  // The ReLUs' backward on the exact sign of their int16 inputs (relu_to):
  // relu(pre) > 0 exactly where pre > 0.
  relu_backward(dsum, dout, acts.sum);
  // Main path: n2 <- h2 <- a1 <- n1 <- h1 <- in.
  Err dh2 = make_tensor<int16_t>(arena, s);
  layernorm_backward(dh2, dsum, acts.h2);
  Err da1 = make_tensor<int16_t>(arena, s);
  conv2d_backward(&da1, dh2, acts.a1, params, spec.conv2, reducer, acts.live2);
  Err dn1 = make_tensor<int16_t>(arena, s);
  relu_backward(dn1, da1, acts.n1);
  Err dh1 = make_tensor<int16_t>(arena, s);
  layernorm_backward(dh1, dn1, acts.h1);
  Err dmain = din ? make_tensor<int16_t>(arena, in.shape) : Err{};
  conv2d_backward(din ? &dmain : nullptr, dh1, in, params, spec.conv1, reducer, acts.live1);
  // Shortcut: identity passes dsum on; a projection backpropagates through LN and the 1x1 conv.
  if (spec.has_projection) {
    Err dhp = make_tensor<int16_t>(arena, s);
    layernorm_backward(dhp, dsum, acts.hp);
    Err dshort = din ? make_tensor<int16_t>(arena, in.shape) : Err{};
    conv2d_backward(din ? &dshort : nullptr, dhp, in, params, spec.projection, reducer, acts.live_projection);
    if (din) add_i16(*din, dmain, dshort);
  } else if (din) {
    add_i16(*din, dmain, dsum);
  }
}

}  // namespace

void basic_block_forward(const Activation& out, BasicBlockActs& acts, const Activation& in, const ParamSet& params,
                         const BasicBlockSpec& spec, Arena& arena) {
  assert(out.width == ActivationWidth::int16 || in.width == ActivationWidth::int8);
  visit(out, in, [&](auto y, auto x) {
    if constexpr (sizeof(*x.data) <= sizeof(*y.data)) block_forward(y, acts, x, params, spec, arena);
  });
}

void basic_block_backward(Err* din, const Err& dout, const Activation& in, const BasicBlockActs& acts, ParamSet& params,
                          const BasicBlockSpec& spec, Arena& arena, const BatchReducer& reducer) {
  visit(in, [&](auto x) { block_backward(din, dout, x, acts, params, spec, arena, reducer); });
}

}  // namespace zimt
