#include "zimt/model_spec.hpp"

namespace zimt {

namespace {

std::string dims(const Shape3& s) {
  return std::to_string(s.c) + "x" + std::to_string(s.h) + "x" + std::to_string(s.w);
}

bool in_range(int64_t v) { return v >= 1 && v <= max_shape_value; }

}  // namespace

std::string layer_output_shape(const LayerSpec& layer, const Shape3& in, Shape3& out) {
  if (!in_range(in.c) || !in_range(in.h) || !in_range(in.w)) return "input shape " + dims(in) + " out of range";
  out = in;
  return layer_kind_info(layer.kind).output_shape(layer, in, out);
}

int64_t layer_param_count(const LayerSpec& layer, const Shape3& in) {
  return layer_kind_info(layer.kind).param_count(layer, in);
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
