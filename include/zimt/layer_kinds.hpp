#pragma once
// Every layer kind in one table (layer_kinds.cpp): its JSON spelling and
// keys, the width role that fixes which activation widths it reads and
// writes, its shape rule and its parameter count. The model's precision
// policy (assign_activation_widths, model.hpp) reads roles, not kind names,
// so a new kind of an existing role follows the policy without changes.
//
// Adding a layer kind: the enum value below, its row in layer_kinds.cpp, its
// layer files (include/zimt/layers, src/core/layers), one case in
// model_forward and one in model_backward (model.cpp; build_model too if it
// owns parameters or a spec), its float reference (tests/support) and its
// fixture in tests/core/test_layer_widths.cpp, which fails for a kind and
// width pair without one.
//
// Kinds and their JSON keys (defaults in brackets):
//   conv2d        out, kernel, stride [1], padding [0], bias [true]   (C,H,W) -> (out,H',W')
//   linear        out, bias [true]          needs a flat input (C,1,1) -> (out,1,1)
//   relu                                    shape unchanged
//   maxpool       kernel, stride [kernel], padding [0]   floor mode, as PyTorch
//   global_avgpool                          (C,H,W) -> (C,1,1)
//   flatten                                 (C,H,W) -> (C*H*W,1,1)
//   layernorm                               shape unchanged; no parameters, normalises
//                                           each sample over all of (C,H,W)
//   basic_block   out, stride [1]           ResNet basic block, see layers/residual.hpp
#include <cstdint>
#include <string>
#include <vector>

#include "zimt/tensor.hpp"

namespace zimt {

enum class LayerKind : uint8_t { conv2d, linear, relu, maxpool, global_avgpool, flatten, layernorm, basic_block };

// Which activation widths a kind reads and writes (input -> output).
enum class WidthRole : uint8_t {
  gemm,         // int8 or int16 -> int8 or int16 (conv2d, linear)
  elementwise,  // output width = input width (relu, maxpool)
  reshape,      // output width = input width (flatten)
  normalise,    // int8 -> int8, int16 -> int8 or int16 (layernorm)
  reduce,       // int8 or int16 -> int8 (global_avgpool)
  block,        // int8 -> int8 or int16, int16 -> int16 (basic_block)
};

// Whether a layer of `role` has a forward and backward entry for in -> out.
bool accepts_widths(WidthRole role, ActivationWidth in, ActivationWidth out);

// One sample's activation shape.
struct Shape3 {
  int64_t c = 0, h = 0, w = 0;
  int64_t numel() const { return c * h * w; }
  bool operator==(const Shape3&) const = default;
};

struct LayerSpec {
  LayerKind kind = LayerKind::relu;
  std::string name;  // "" -> default name
  int64_t out = 0;
  int64_t kernel = 0;
  int64_t stride = 1;
  int64_t padding = 0;
  bool bias = true;
};

struct LayerKindInfo {
  LayerKind kind;
  const char* name;  // the JSON spelling
  WidthRole role;
  std::vector<std::string> required_keys;  // JSON keys besides "kind" and "name"
  std::vector<std::string> optional_keys;
  // The output shape for input `in`: "" on success, else what is wrong
  // (`out` is then unspecified). `in` is within max_shape_value.
  std::string (*output_shape)(const LayerSpec& layer, const Shape3& in, Shape3& out);
  // Parameters the layer owns for input `in` (weights + biases).
  int64_t (*param_count)(const LayerSpec& layer, const Shape3& in);
};

// Every kind, in enum order.
const std::vector<LayerKindInfo>& layer_kinds();
const LayerKindInfo& layer_kind_info(LayerKind kind);

// "conv2d", "linear", ... (the JSON spelling).
inline const char* layer_kind_name(LayerKind kind) { return layer_kind_info(kind).name; }

}  // namespace zimt
