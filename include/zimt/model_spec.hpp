#pragma once
// What a model is, as plain data: an input shape, a class count and a list of
// layers, each a kind plus its shape parameters. configs/models/*.json are
// parsed into this (zimt/runs/model_spec.hpp); zimt/model.hpp builds a runnable
// model from it. Nothing here allocates tensors: shape inference and
// parameter counting work on the description alone, so a config can be
// checked (and its size printed) before anything is built.
//
// Layer kinds, their keys and rules: layer_kinds.hpp.
// Model-level options (which layers they make int16: model.hpp):
//   block_activations  "int8" ["int8"] | "int16": the precision of the
//                      activations the convolutions of the residual blocks
//                      READ (block input, mid-block ReLU output, block
//                      output); see layers/residual.hpp for what each
//                      costs and buys. No effect on a model without blocks.
//   norm_activations   "int8" ["int8"] | "int16": the precision of the
//                      activations around each LayerNorm: the conv2d /
//                      linear output that reaches it (through relu /
//                      maxpool) and the LayerNorm's output that a conv2d /
//                      linear reads (through flatten). int16 costs no GEMM
//                      time (the kernels multiply int16 either way), only
//                      memory traffic; why the MLP needs it: model.hpp.
// Every layer may carry a `name` that prefixes its parameter names
// ("conv1" -> "conv1.weight"); unnamed layers are named by kind and position
// (see default_layer_names).
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "zimt/layer_kinds.hpp"
#include "zimt/tensor.hpp"

namespace zimt {

struct ModelSpec {
  std::string name;
  Shape3 input;
  int64_t classes = 0;
  std::vector<LayerSpec> layers;
  ActivationWidth block_activations = ActivationWidth::int8;
  ActivationWidth norm_activations = ActivationWidth::int8;
};

// Upper bound on every shape number (channels, sizes, kernel, ...), so that
// products of a few of them stay far inside int64.
constexpr int64_t max_shape_value = 1 << 20;

// The shape a layer produces from `in`. Returns "" on success, else what is
// wrong ("kernel 5 is larger than the padded input 4x4"); `out` is then
// unspecified.
std::string layer_output_shape(const LayerSpec& layer, const Shape3& in, Shape3& out);

// Number of parameters the layer owns for input shape `in` (weights + biases).
int64_t layer_param_count(const LayerSpec& layer, const Shape3& in);

// Shape problems of a whole model: pairs (layer index or -1 for the model,
// message). Checks each layer in turn and that the last output is
// (classes,1,1). Empty when the model is buildable.
std::vector<std::pair<int, std::string>> check_model_spec(const ModelSpec& spec);

// Names used for parameters: the layer's own `name`, else by kind and
// 1-based position among layers of that kind ("conv1", "conv2", "fc1",
// "fc2"); basic blocks are "layer<stage>.<index>" as in torchvision, a new
// stage starting whenever a block changes width or has stride != 1.
std::vector<std::string> default_layer_names(const ModelSpec& spec);

}  // namespace zimt
