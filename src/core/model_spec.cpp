#include "zimt/model_spec.hpp"

namespace zimt {

const char* layer_kind_name(LayerKind kind) {
  switch (kind) {
    case LayerKind::conv2d: return "conv2d";
    case LayerKind::linear: return "linear";
    case LayerKind::relu: return "relu";
    case LayerKind::maxpool: return "maxpool";
    case LayerKind::global_avgpool: return "global_avgpool";
    case LayerKind::flatten: return "flatten";
    case LayerKind::layernorm: return "layernorm";
    case LayerKind::basic_block: return "basic_block";
  }
  return "?";
}

namespace {

std::string dims(const Shape3& s) {
  return std::to_string(s.c) + "x" + std::to_string(s.h) + "x" + std::to_string(s.w);
}

// Output size of a sliding window (conv, pool) in floor mode, or an error.
std::string window(int64_t size, int64_t kernel, int64_t stride, int64_t padding, int64_t& out) {
  if (kernel < 1) return "kernel must be >= 1";
  if (stride < 1) return "stride must be >= 1";
  if (padding < 0) return "padding must be >= 0";
  if (kernel > size + 2 * padding)
    return "kernel " + std::to_string(kernel) + " is larger than the padded input size " +
           std::to_string(size + 2 * padding);
  out = (size + 2 * padding - kernel) / stride + 1;
  return "";
}

bool in_range(int64_t v) { return v >= 1 && v <= max_shape_value; }

}  // namespace

std::string layer_output_shape(const LayerSpec& layer, const Shape3& in, Shape3& out) {
  if (!in_range(in.c) || !in_range(in.h) || !in_range(in.w)) return "input shape " + dims(in) + " out of range";
  out = in;
  switch (layer.kind) {
    case LayerKind::conv2d: {
      if (!in_range(layer.out)) return "out must be in [1, " + std::to_string(max_shape_value) + "]";
      out.c = layer.out;
      if (auto e = window(in.h, layer.kernel, layer.stride, layer.padding, out.h); !e.empty()) return e;
      return window(in.w, layer.kernel, layer.stride, layer.padding, out.w);
    }
    case LayerKind::linear:
      if (!in_range(layer.out)) return "out must be in [1, " + std::to_string(max_shape_value) + "]";
      if (in.h != 1 || in.w != 1)
        return "linear needs a flat input, got " + dims(in) + " (add {\"kind\":\"flatten\"} before it)";
      out = {layer.out, 1, 1};
      return "";
    case LayerKind::maxpool: {
      if (layer.padding * 2 > layer.kernel) return "padding must be at most half the kernel";
      if (auto e = window(in.h, layer.kernel, layer.stride, layer.padding, out.h); !e.empty()) return e;
      return window(in.w, layer.kernel, layer.stride, layer.padding, out.w);
    }
    case LayerKind::global_avgpool: out = {in.c, 1, 1}; return "";
    case LayerKind::flatten:
      if (in.numel() > max_shape_value) return "flattened size " + std::to_string(in.numel()) + " too large";
      out = {in.numel(), 1, 1};
      return "";
    case LayerKind::relu:
    case LayerKind::layernorm: return "";
    case LayerKind::basic_block: {
      if (!in_range(layer.out)) return "out must be in [1, " + std::to_string(max_shape_value) + "]";
      out.c = layer.out;
      // conv 3x3 pad 1 with the block's stride; the 1x1 projection gives the same size.
      if (auto e = window(in.h, 3, layer.stride, 1, out.h); !e.empty()) return e;
      return window(in.w, 3, layer.stride, 1, out.w);
    }
  }
  return "unknown layer kind";
}

int64_t layer_param_count(const LayerSpec& layer, const Shape3& in) {
  switch (layer.kind) {
    case LayerKind::conv2d: return layer.out * in.c * layer.kernel * layer.kernel + (layer.bias ? layer.out : 0);
    case LayerKind::linear: return layer.out * in.c + (layer.bias ? layer.out : 0);
    case LayerKind::basic_block: {
      const bool projection = layer.stride != 1 || layer.out != in.c;
      return layer.out * in.c * 9 + layer.out * layer.out * 9 + (projection ? layer.out * in.c : 0);
    }
    default: return 0;
  }
}

std::vector<std::pair<int, std::string>> check_model_spec(const ModelSpec& spec) {
  std::vector<std::pair<int, std::string>> problems;
  if (!in_range(spec.classes)) problems.push_back({-1, "classes must be >= 1"});
  Shape3 shape = spec.input;
  if (!in_range(shape.c) || !in_range(shape.h) || !in_range(shape.w)) {
    problems.push_back({-1, "input shape " + dims(shape) + " out of range"});
    return problems;
  }
  if (spec.layers.empty()) {
    problems.push_back({-1, "a model needs at least one layer"});
    return problems;
  }
  for (size_t i = 0; i < spec.layers.size(); ++i) {
    Shape3 out;
    const std::string e = layer_output_shape(spec.layers[i], shape, out);
    if (!e.empty()) {
      problems.push_back({static_cast<int>(i), e + " (input " + dims(shape) + ")"});
      return problems;  // later shapes are meaningless
    }
    shape = out;
  }
  // An int16 block output (residual.hpp) is read only by a block or a global_avgpool.
  if (spec.block_activations == ActivationWidth::int16) {
    for (size_t i = 0; i < spec.layers.size(); ++i) {
      if (spec.layers[i].kind != LayerKind::basic_block) continue;
      const bool last = i + 1 == spec.layers.size();
      const LayerKind next = last ? LayerKind::basic_block : spec.layers[i + 1].kind;
      if (last || (next != LayerKind::basic_block && next != LayerKind::global_avgpool))
        problems.push_back(
            {static_cast<int>(last ? i : i + 1),
             std::string("with block_activations int16 a basic_block's output is int16, which only a "
                         "basic_block or a global_avgpool reads") +
                 (last ? " (the block is the last layer)" : std::string(", not a ") + layer_kind_name(next))});
    }
  }
  if (spec.classes >= 1 && !(shape == Shape3{spec.classes, 1, 1}))
    problems.push_back({-1, "the last layer outputs " + dims(shape) + ", but classes is " +
                                std::to_string(spec.classes) + " (expected " + std::to_string(spec.classes) + "x1x1)"});
  return problems;
}

std::vector<std::string> default_layer_names(const ModelSpec& spec) {
  std::vector<std::string> names;
  int convs = 0, linears = 0, stage = 0, block = 0;
  int64_t width = -1;
  for (const LayerSpec& l : spec.layers) {
    std::string name;
    switch (l.kind) {
      case LayerKind::conv2d: name = "conv" + std::to_string(++convs); break;
      case LayerKind::linear: name = "fc" + std::to_string(++linears); break;
      case LayerKind::basic_block:
        if (l.out != width || l.stride != 1 || stage == 0) {
          ++stage;
          block = 0;
        }
        width = l.out;
        name = "layer" + std::to_string(stage) + "." + std::to_string(block++);
        break;
      default: name = layer_kind_name(l.kind) + std::to_string(names.size()); break;
    }
    names.push_back(l.name.empty() ? name : l.name);
  }
  return names;
}

}  // namespace zimt
