#pragma once
// A runnable model: the layers of a ModelSpec (model_spec.hpp) wired in a
// list, their parameters in one ParamSet, and the forward/backward drivers.
// Reading model_forward and model_backward top to bottom is the whole
// architecture: each layer is one call into layers/*.hpp.
//
// Parameter names follow PyTorch: "<layer name>.weight" / ".bias" (conv2d,
// linear), "<block>.conv1.weight", "<block>.conv2.weight",
// "<block>.downsample.0.weight" (basic blocks); layer names come from
// default_layer_names. Weights start at zero (w_exp = 0: under ZIM the
// integer is the weight); initialisation is the optimizer's business
// (optim/init.hpp).
//
// Activations: model_forward allocates every layer output (and each basic
// block's intermediates) from an Arena and keeps the views in ModelActs, which
// model_backward reads. Error signals are arena scratch too. Reset the arena
// between steps (Arena::reset keeps the memory).
//
// A conv2d directly followed by a layernorm (the ResNet stem) hands it int16
// outputs, as inside the basic blocks (residual.hpp): the LayerNorm's output
// signs, i.e. the next ReLU's mask, are those of x - mean on a 2^8 times
// finer rounding. With "block_activations": "int16" (model_spec.hpp) every
// basic block's output is int16 too (residual.hpp), and so is every relu,
// maxpool or layernorm between an int16 output and the first block: the
// ResNet stem conv1 -> LN -> relu -> maxpool runs in int16 (LayerNorm's
// int16 rule: no cap, no saturation), so the first block reads int16 as
// well (an int8 stem output would put the same ~1 % rounding noise into
// every block downstream; docs/design.md, "Precision policy"). Only a block
// or a global_avgpool may read a block's output (check_model_spec):
//   last block -> global_avgpool: int16 in, one int8 rounding of the means,
//     which the fc's GEMM reads.
// A block whose input is int8 (no int16 layer before it) reads it as it is.
//
// With "norm_activations": "int16" (model_spec.hpp) the activations around
// every LayerNorm are int16: the conv2d / linear output that reaches it
// through relu / maxpool layers (and those layers), and the LayerNorm's
// output when a conv2d / linear reads it, directly or through a flatten.
// Why: an int8 LayerNorm output carries ~2 % rounding error, which a trained
// layer after it amplifies into wrong gradient signs (measured on the MNIST
// MLP: docs/design.md, "Precision policy"). The GEMM kernels multiply int16
// operands either way (kernels/gemm.hpp), so int16 costs only memory.
// Every other layer output is int8.
#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "zimt/arena.hpp"
#include "zimt/batch_reducer.hpp"
#include "zimt/layers/conv2d.hpp"
#include "zimt/layers/layernorm.hpp"
#include "zimt/layers/linear.hpp"
#include "zimt/layers/pool.hpp"
#include "zimt/layers/residual.hpp"
#include "zimt/model_spec.hpp"
#include "zimt/param.hpp"
#include "zimt/tensor.hpp"

namespace zimt {

struct ModelLayer {
  LayerKind kind = LayerKind::relu;
  std::string name;
  Shape3 in, out;         // one sample's shapes
  bool flat_out = false;  // the output is (N,F) rather than (N,C,H,W)
  // Element types of the layer's input and output (assign_activation_widths).
  ActivationWidth in_width = ActivationWidth::int8;
  ActivationWidth out_width = ActivationWidth::int8;
  // The int8 rounding of a global_avgpool's means (the one layer with a choice).
  Rounding rounding = Rounding::keep_sign;
  // The parameters of this layer's kind (the others stay default).
  Conv2dSpec conv;
  LinearSpec linear;
  MaxPoolSpec pool;
  LayerNormSpec norm;
  BasicBlockSpec block;
  int64_t params = 0;  // number of parameters the layer owns
};

struct Model {
  ModelSpec spec;
  std::vector<ModelLayer> layers;
  ParamSet params;
};

// Builds the layer list, allocates the (zero) parameters and runs
// assign_activation_widths. Throws std::invalid_argument listing
// check_model_spec's problems, if any.
Model build_model(const ModelSpec& spec, WeightStorage storage = WeightStorage::int8);

// The precision policy as one pass over the layers: sets every layer's
// in_width / out_width (the rules at the top of this file) and the rounding
// of a global_avgpool (nearest after an int16 input, keep_sign after int8).
void assign_activation_widths(Model& model);

// Tensor shapes for a batch: the input (N,C,H,W) and layer i's output.
Shape model_input_shape(const Model& model, int64_t batch);
Shape layer_output_shape(const ModelLayer& layer, int64_t batch);

// One line per layer: index, name, kind, input and output width, output
// shape, parameters; then the total.
// E.g. "  0  conv1       conv2d          int8  int16 32x28x28           320".
std::string describe(const Model& model);

// Views into the arena that model_forward was given (the arrays too).
struct ModelActs {
  Activation input;
  // out[i]: output of layer i; out.back() are the logits (N,classes), int8.
  // A conv2d or linear layer followed by a ReLU applies it (model.cpp): its
  // out[i] is the ReLU's output, the same view as out[i + 1].
  std::span<Activation> out;
  std::span<BasicBlockActs> block;  // block[i]: intermediates of layer i if it is a basic block
  int64_t saturated = 0;            // LayerNorm outputs saturated at ±127 (layernorm.hpp)
};

// Wall time of each layer's call, in steady_clock nanoseconds, added to
// layer_ns[i] (sized to the layer count by the caller) when layer_ns is not
// nullptr: the per-layer profile of bench_model_step --profile.
using LayerNanos = std::vector<int64_t>;

// steady_clock now, in integer nanoseconds (the profile's clock).
inline int64_t steady_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// input (N,C,H,W) int8 with per-sample exponents -> acts (from `arena`).
void model_forward(ModelActs& acts, const Model& model, const Act& input, Arena& arena, LayerNanos* layer_ns = nullptr);

// The working memory of a forward-only pass (model_infer): each layer's
// output goes to `ping` or `pong` in turn, the arena reset just before, so
// only the layer's input and output are alive; a basic block's
// intermediates go to `block`, reset before each block. No activation is
// kept for a backward pass. Arena::reset keeps the memory, so repeated
// passes allocate only while the batch grows.
struct InferenceArenas {
  Arena ping, pong, block;
};

// input (N,C,H,W) int8 -> the logits (N,classes) int8, forward only: the
// same outputs as model_forward's last one. `input` may live in
// arenas.pong (reset only after layer 0 has read it), not in ping or block.
// LayerNorm outputs saturated at ±127 are added to *saturated.
Act model_infer(const Model& model, const Act& input, InferenceArenas& arenas, int64_t* saturated);

// dlogits (N,classes): dL/dlogits. Overwrites every gradient in
// model.params.g (and g_exp) with this process's share of the batch sum,
// aligned over the whole batch that `reducer` spans (batch_reducer.hpp). No
// input error is computed for the first layer.
void model_backward(Model& model, const ModelActs& acts, const Err& dlogits, Arena& arena,
                    LayerNanos* layer_ns = nullptr, const BatchReducer& reducer = single_process());

}  // namespace zimt
