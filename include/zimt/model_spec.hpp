#pragma once
// What a model is, as plain data: an input shape, a class count and a list of
// layers, each a kind plus its shape parameters. configs/models/*.json are
// parsed into this (zimt/io/model_spec.hpp); zimt/model.hpp builds a runnable
// model from it. Nothing here allocates tensors: shape inference and
// parameter counting work on the description alone, so a config can be
// checked (and its size printed) before anything is built.
//
// Layer kinds and their shape parameters (defaults in brackets):
//   conv2d        out, kernel, stride [1], padding [0], bias [true]   (C,H,W) -> (out,H',W')
//   linear        out, bias [true]          needs a flat input (C,1,1) -> (out,1,1)
//   relu                                    shape unchanged
//   maxpool       kernel, stride [kernel], padding [0]   floor mode, as PyTorch
//   global_avgpool                          (C,H,W) -> (C,1,1)
//   flatten                                 (C,H,W) -> (C*H*W,1,1)
//   layernorm                               shape unchanged; no parameters, normalises
//                                           each sample over all of (C,H,W)
//   basic_block   out, stride [1]           ResNet basic block, see layers/residual.hpp
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

#include "zimt/tensor.hpp"

namespace zimt {

enum class LayerKind : uint8_t { conv2d, linear, relu, maxpool, global_avgpool, flatten, layernorm, basic_block };

// "conv2d", "linear", ... (the JSON spelling).
const char* layer_kind_name(LayerKind kind);

struct LayerSpec {
  LayerKind kind = LayerKind::relu;
  std::string name;  // "" -> default name
  int64_t out = 0;
  int64_t kernel = 0;
  int64_t stride = 1;
  int64_t padding = 0;
  bool bias = true;
};

// One sample's activation shape.
struct Shape3 {
  int64_t c = 0, h = 0, w = 0;
  int64_t numel() const { return c * h * w; }
  bool operator==(const Shape3&) const = default;
};

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
