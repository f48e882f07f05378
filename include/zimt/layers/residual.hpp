#pragma once
// ResNet basic block (He et al. 2016; torchvision's BasicBlock) with the
// parameter-free LayerNorm (layernorm.hpp) in place of each BatchNorm:
//
//   h1 = conv3x3(x, stride s, pad 1)   n1 = LN(h1)   a1 = relu(n1)
//   h2 = conv3x3(a1, pad 1)            n2 = LN(h2)
//   shortcut = x                                 (same width, stride 1)
//            = LN(conv1x1(x, stride s))          (projection otherwise)
//   sum = n2 + shortcut                out = relu(sum)
//
// The convolutions have no bias (a normalisation follows each, as in
// torchvision). Replacing BatchNorm by a parameter-free normalisation:
// per-sample LayerNorm over (C,H,W) keeps every sample
// independent of the batch (and the engine free of running statistics), at
// the price of not normalising channels separately. Documented deviation
// from the paper's ResNet-18.
//
// Precision inside the block: int8 only where a GEMM reads an activation
// (the block input x, a1 and the block output); everything else is int16,
// because the ReLU masks are the signs of n1 and of sum, and with int8 at
// every step (~5 requantisations per block) the integer signs drifted from
// the float ones (tests/core/test_model_agreement.cpp). So:
//   h1, h2, hp      int16 conv outputs (conv2d.hpp), the LayerNorms' inputs;
//   n1, n2, np, sum int16 (LayerNorm's int16 rule, add_i16);
//   a1 = relu(n1), out = relu(sum): int8 for the next GEMM, rounded to the
//                   NEAREST int8 on the max rule's exponent (a positive value
//                   below half a step becomes 0, unlike quant.hpp's
//                   sign-keeping rounding, which would make it a full step
//                   and revive channels that are dead in float:
//                   docs/design.md, "Rounding");
//   the backward's ReLU masks are the signs of the int16 n1 and sum, so a
//   unit rounded to 0 still passes its error (straight-through on the exact
//   sign, as in float).
// int16 ACTIVATIONS (BasicBlockSpec::int16_activations, the model option
// "block_activations": "int16", model_spec.hpp): the precision choice that
// makes ResNet-18 agree with float (docs/design.md, "Precision policy"):
// with int8, the rounding noise of the GEMM inputs (x, a1) flips ReLU masks
// in every block, compounding over ResNet-18's 17 convolutions. With int16:
//   a1 = relu(n1), out = relu(sum): int16, EXACT (no rounding at all: the
//                   same mantissas and exponents as n1 / sum where positive);
//   the input x is int16 (the previous block's output, or the int16 stem,
//                   model.hpp) or int8 (a first block after int8 layers);
//   the convolutions read x and a1 through gemm_nt's int16 x int16 kernel
//                   (exact like every GEMM here).
// Cost: a1 and the block output take twice the bytes, and the convolutions
// run gemm_nt's int16 x int16 kernel instead of int16 x int8.
// Additions (sum, and in backward the two input errors) join the operands
// on common_exponent (quant.hpp: exact unless their scales differ by more
// than ~2^50) and requantise per sample to int16 with round-half-even
// (never a sign change, quant.hpp).
#include <cstddef>
#include <cstdint>
#include <string>

#include "zimt/arena.hpp"
#include "zimt/batch_reducer.hpp"
#include "zimt/layers/conv2d.hpp"
#include "zimt/param.hpp"
#include "zimt/tensor.hpp"

namespace zimt {

struct BasicBlockSpec {
  Conv2dSpec conv1;  // in -> out channels, 3x3, stride s, pad 1
  Conv2dSpec conv2;  // out -> out, 3x3, stride 1, pad 1
  bool has_projection = false;
  Conv2dSpec projection;           // in -> out, 1x1, stride s (if has_projection)
  bool int16_activations = false;  // a1 and the output int16 (see above), else int8
};

// Adds the block's weight tensors to `params` as "<name>.conv1.weight",
// "<name>.conv2.weight" and "<name>.downsample.0.weight" (torchvision's
// names); a projection is used when the width changes or stride != 1.
BasicBlockSpec add_basic_block(ParamSet& params, const std::string& name, int64_t in_channels, int64_t out_channels,
                               int64_t stride, bool int16_activations = false);

// The block's intermediate activations, kept from forward for backward
// (hp, np only with a projection; a1 of the block's activation width).
struct BasicBlockActs {
  Tensor<int16_t> h1, n1;
  Activation a1;
  Tensor<int16_t> h2, n2, hp, np, sum;
  // The live-tap weights of conv1, conv2 and the projection, for backward
  // (conv2d_live_weights_size; nullptr where every tap is live).
  int16_t *live1 = nullptr, *live2 = nullptr, *live_projection = nullptr;
};

Shape basic_block_out_shape(const Shape& in, const BasicBlockSpec& spec);

// in (N,C,H,W) -> out (N,O,OH,OW). The intermediates are allocated from
// `arena` into `acts`. Nothing saturates (int16 LayerNorm outputs).
// out's width must match spec.int16_activations; an int16-activation block
// reads int8 or int16 inputs, an int8-activation block int8 inputs.
void basic_block_forward(const Activation& out, BasicBlockActs& acts, const Activation& in, const ParamSet& params,
                         const BasicBlockSpec& spec, Arena& arena);

// din may be nullptr. Overwrites the gradients of the block's tensors
// (this process's share of the batch that `reducer` spans, conv2d.hpp).
// Scratch error tensors come from `arena`. `in` as given to forward.
void basic_block_backward(Err* din, const Err& dout, const Activation& in, const BasicBlockActs& acts, ParamSet& params,
                          const BasicBlockSpec& spec, Arena& arena, const BatchReducer& reducer = single_process());

// Per-sample sums of two tensors of equal shape into int16: out = a + b (see
// above). The residual sums (n2 + np, n2 + x) and the input errors (Err).
void add_i16(Tensor<int16_t>& out, const Tensor<int16_t>& a, const Tensor<int16_t>& b);
void add_i16(Tensor<int16_t>& out, const Tensor<int16_t>& a, const Act& b);

}  // namespace zimt
