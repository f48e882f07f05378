#include "zimt/model.hpp"

#include <cassert>
#include <stdexcept>

#include "zimt/layers/conv2d_pooled.hpp"
#include "zimt/layers/flatten.hpp"
#include "zimt/layers/relu.hpp"

namespace zimt {

namespace {

std::string dims(const Shape3& s, bool flat) {
  if (flat) return std::to_string(s.c);
  return std::to_string(s.c) + "x" + std::to_string(s.h) + "x" + std::to_string(s.w);
}

// s padded with spaces to `width`, at least one space after (or before) it.
std::string pad(std::string s, size_t width, bool right_align = false) {
  if (s.size() >= width) return right_align ? " " + s : s + " ";
  return right_align ? std::string(width - s.size(), ' ') + s : s + std::string(width - s.size(), ' ');
}

// Whether layer i is a convolution or linear layer that applies the ReLU
// right after it to its own output, sample by sample while it is in cache
// (their forward's relu argument): that ReLU's forward has nothing left to
// do, and its output is layer i's.
bool applies_next_relu(const Model& model, size_t i) {
  const std::vector<ModelLayer>& layers = model.layers;
  return i + 1 < layers.size() && layers[i + 1].kind == LayerKind::relu &&
         (layers[i].kind == LayerKind::conv2d || layers[i].kind == LayerKind::linear);
}

// Whether layer i is a ReLU that the layer before it applied.
bool relu_applied_before(const Model& model, size_t i) { return i > 0 && applies_next_relu(model, i - 1); }

// Whether layer i is a max pool after a ReLU after the convolution `first`,
// the first layer with parameters (so no input error), which then computes
// its gradients from the pool's error (conv2d_pooled.hpp).
bool pooled_first_conv(const Model& model, size_t i, size_t first) {
  const std::vector<ModelLayer>& layers = model.layers;
  return i == first + 2 && layers[i].kind == LayerKind::maxpool && layers[first].kind == LayerKind::conv2d &&
         applies_next_relu(model, first) && conv2d_pooled_applies(layers[first].conv, layers[i].pool);
}

// Layer l: x -> y, then a ReLU on y if relu_after (conv2d and linear); a
// basic block's intermediates go to `block`, allocated from `arena`. Returns
// the LayerNorm outputs saturated at ±127.
int64_t layer_forward(const ModelLayer& l, const Activation& y, const Activation& x, const ParamSet& p,
                      BasicBlockActs& block, Arena& arena, bool relu_after) {
  assert(!relu_after || l.kind == LayerKind::conv2d || l.kind == LayerKind::linear);
  switch (l.kind) {
    case LayerKind::conv2d: conv2d_forward(y, x, p, l.conv, relu_after); break;
    case LayerKind::linear: linear_forward(y, x, p, l.linear, relu_after); break;
    case LayerKind::relu: relu_forward(y, x); break;
    case LayerKind::maxpool: maxpool_forward(y, x, l.pool); break;
    case LayerKind::global_avgpool: global_avgpool_forward(y, x, l.rounding); break;
    case LayerKind::flatten: flatten_forward(y, x); break;
    case LayerKind::layernorm: return layernorm_forward(y, x, l.norm);
    case LayerKind::basic_block: basic_block_forward(y, block, x, p, l.block, arena); break;
  }
  return 0;
}

}  // namespace

Model build_model(const ModelSpec& spec, WeightStorage storage) {
  const auto problems = check_model_spec(spec);
  if (!problems.empty()) {
    std::string msg = "model '" + spec.name + "':";
    for (const auto& [index, text] : problems)
      msg += "\n  " + (index < 0 ? std::string("model") : "layer " + std::to_string(index)) + ": " + text;
    throw std::invalid_argument(msg);
  }
  Model model;
  model.spec = spec;
  model.params.storage = storage;
  const std::vector<std::string> names = default_layer_names(spec);
  Shape3 shape = spec.input;
  bool flat = false;
  for (size_t i = 0; i < spec.layers.size(); ++i) {
    const LayerSpec& ls = spec.layers[i];
    ModelLayer l;
    l.kind = ls.kind;
    l.name = names[i];
    l.in = shape;
    layer_output_shape(ls, shape, l.out);  // checked above
    l.params = layer_param_count(ls, shape);
    ParamSet& p = model.params;
    switch (ls.kind) {
      case LayerKind::conv2d:
        l.conv.in_channels = shape.c;
        l.conv.out_channels = ls.out;
        l.conv.kernel = ls.kernel;
        l.conv.stride = ls.stride;
        l.conv.padding = ls.padding;
        l.conv.weight = p.add(l.name + ".weight", {ls.out, shape.c, ls.kernel, ls.kernel}, ParamKind::weight);
        l.conv.has_bias = ls.bias;
        if (ls.bias) l.conv.bias = p.add(l.name + ".bias", {ls.out}, ParamKind::bias);
        break;
      case LayerKind::linear:
        l.linear.in_features = shape.c;
        l.linear.out_features = ls.out;
        l.linear.weight = p.add(l.name + ".weight", {ls.out, shape.c}, ParamKind::weight);
        l.linear.has_bias = ls.bias;
        if (ls.bias) l.linear.bias = p.add(l.name + ".bias", {ls.out}, ParamKind::bias);
        break;
      case LayerKind::maxpool: l.pool = {ls.kernel, ls.stride, ls.padding}; break;
      case LayerKind::basic_block:
        l.block =
            add_basic_block(p, l.name, shape.c, ls.out, ls.stride, spec.block_activations == ActivationWidth::int16);
        break;
      default: break;  // no parameters and no spec of its own
    }
    if (ls.kind == LayerKind::flatten || ls.kind == LayerKind::global_avgpool || ls.kind == LayerKind::linear)
      flat = true;
    l.flat_out = flat;
    shape = l.out;
    model.layers.push_back(std::move(l));
  }
  assign_activation_widths(model);
  return model;
}

void assign_activation_widths(Model& model) {
  // int16 outputs (model.hpp). With int16 norm activations: a conv2d or
  // linear whose output reaches a layernorm through relu / maxpool layers
  // only, those layers, and a layernorm (with an int16 input) whose output a
  // conv2d or linear reads, directly or through a flatten. With int16 block
  // activations: every block, and the relu / maxpool / layernorm layers
  // between an int16 output and the first block (the stem). Always: a conv2d
  // directly followed by a layernorm. Every other output is int8.
  const ModelSpec& spec = model.spec;
  const bool wide_blocks = spec.block_activations == ActivationWidth::int16;
  const bool wide_norms = spec.norm_activations == ActivationWidth::int16;
  const size_t L = model.layers.size();
  // The rules read width roles (layer_kinds.hpp): relu and maxpool are
  // elementwise, layernorm normalises, flatten reshapes.
  // Past the last layer: a reshape, which is neither a GEMM, elementwise nor a normalisation.
  const auto role = [&](size_t i) { return i < L ? layer_kind_info(model.layers[i].kind).role : WidthRole::reshape; };
  const auto is_gemm = [&](size_t i) { return role(i) == WidthRole::gemm; };
  std::vector<bool> feeds_block(L + 1, false);  // only elementwise/normalising layers until a block
  std::vector<bool> feeds_norm(L + 1, false);   // only elementwise layers until a normalisation
  for (size_t i = L; i-- > 0;) {
    const WidthRole r = role(i), next = role(i + 1);
    const bool passes = r == WidthRole::elementwise || r == WidthRole::normalise;
    feeds_block[i] = wide_blocks && (r == WidthRole::block || (passes && feeds_block[i + 1]));
    feeds_norm[i] = next == WidthRole::normalise || (next == WidthRole::elementwise && feeds_norm[i + 1]);
  }
  ActivationWidth width = ActivationWidth::int8;  // the model's input
  for (size_t i = 0; i < L; ++i) {
    ModelLayer& l = model.layers[i];
    l.in_width = width;
    const bool wide_in = width == ActivationWidth::int16;
    const WidthRole r = role(i);
    const bool gemm_after = is_gemm(i + 1) || (role(i + 1) == WidthRole::reshape && is_gemm(i + 2));
    const bool around_norm =
        wide_norms &&
        ((r == WidthRole::gemm && feeds_norm[i]) || (r == WidthRole::elementwise && wide_in && feeds_norm[i]) ||
         (r == WidthRole::normalise && wide_in && gemm_after) || (r == WidthRole::reshape && wide_in));
    const bool wide_out = around_norm || (l.kind == LayerKind::conv2d && role(i + 1) == WidthRole::normalise) ||
                          (r == WidthRole::block && wide_blocks) ||
                          (r != WidthRole::block && wide_in && feeds_block[i]);
    l.out_width = wide_out ? ActivationWidth::int16 : ActivationWidth::int8;
    assert(accepts_widths(r, l.in_width, l.out_width));
    // The means of an int16 input (the last int16 block's output) go to the
    // nearest int8, as the fc's GEMM, not a ReLU mask, reads them; after an
    // int8 input the sign is kept (docs/design.md, "Rounding").
    if (r == WidthRole::reduce) l.rounding = wide_in ? Rounding::nearest : Rounding::keep_sign;
    width = l.out_width;
  }
}

Shape model_input_shape(const Model& model, int64_t batch) {
  const Shape3& s = model.spec.input;
  return Shape{batch, s.c, s.h, s.w};
}

Shape layer_output_shape(const ModelLayer& layer, int64_t batch) {
  if (layer.flat_out) return Shape{batch, layer.out.c};
  return Shape{batch, layer.out.c, layer.out.h, layer.out.w};
}

std::string describe(const Model& model) {
  std::string s = "model " + model.spec.name + ": input " + dims(model.spec.input, false) + ", " +
                  std::to_string(model.spec.classes) + " classes\n";
  s += "  #  " + pad("name", 12) + pad("kind", 16) + pad("in", 6) + pad("out", 6) + pad("output", 12) +
       pad("params", 10, true) + "\n";
  int64_t total = 0;
  for (size_t i = 0; i < model.layers.size(); ++i) {
    const ModelLayer& l = model.layers[i];
    total += l.params;
    s += pad(std::to_string(i), 3, true) + "  " + pad(l.name, 12) + pad(layer_kind_name(l.kind), 16) +
         pad(activation_width_name(l.in_width), 6) + pad(activation_width_name(l.out_width), 6) +
         pad(dims(l.out, l.flat_out), 12) + pad(std::to_string(l.params), 10, true) + "\n";
  }
  s += "  total parameters: " + std::to_string(total) + "\n";
  return s;
}

void model_forward(ModelActs& acts, const Model& model, const Act& input, Arena& arena, LayerNanos* layer_ns) {
  const int64_t batch = input.batch();
  assert(input.shape == model_input_shape(model, batch));
  acts.input = input;
  acts.out = make_array<Activation>(arena, model.layers.size());
  acts.block = make_array<BasicBlockActs>(arena, model.layers.size());
  acts.saturated = 0;
  const ParamSet& p = model.params;
  for (size_t i = 0; i < model.layers.size(); ++i) {
    const ModelLayer& l = model.layers[i];
    const Activation& x = i == 0 ? acts.input : acts.out[i - 1];
    assert(x.width == l.in_width);
    if (relu_applied_before(model, i)) {
      assert(l.out_width == l.in_width);
      acts.out[i] = x;
      continue;
    }
    const int64_t t0 = layer_ns ? steady_now_ns() : 0;
    const Activation y = acts.out[i] = make_activation(arena, l.out_width, layer_output_shape(l, batch));
    acts.saturated += layer_forward(l, y, x, p, acts.block[i], arena, applies_next_relu(model, i));
    if (layer_ns) (*layer_ns)[i] += steady_now_ns() - t0;
  }
}

Act model_infer(const Model& model, const Act& input, InferenceArenas& arenas, int64_t* saturated) {
  const int64_t batch = input.batch();
  assert(input.shape == model_input_shape(model, batch));
  assert(!model.layers.empty());
  const ParamSet& p = model.params;
  Activation x = input;
  bool ping = true;  // the arena of the next output: the other one holds x
  for (size_t i = 0; i < model.layers.size(); ++i) {
    const ModelLayer& l = model.layers[i];
    assert(x.width == l.in_width);
    if (relu_applied_before(model, i)) continue;  // x is its output
    Arena& out_arena = ping ? arenas.ping : arenas.pong;
    ping = !ping;
    out_arena.reset();
    const Activation y = make_activation(out_arena, l.out_width, layer_output_shape(l, batch));
    arenas.block.reset();
    BasicBlockActs intermediates;  // dropped with the block arena's next reset
    *saturated += layer_forward(l, y, x, p, intermediates, arenas.block, applies_next_relu(model, i));
    x = y;
  }
  return x.as<int8_t>();
}

void model_backward(Model& model, const ModelActs& acts, const Err& dlogits, Arena& arena, LayerNanos* layer_ns,
                    const BatchReducer& reducer) {
  // Layers before the first one with parameters need no error signal.
  size_t first = 0;
  while (first < model.layers.size() && model.layers[first].params == 0) ++first;
  ParamSet& p = model.params;
  Err dy = dlogits;
  // A max pool with disjoint windows right after a ReLU applies the ReLU's
  // mask in its own backward (pool.hpp), and the ReLU's backward passes dy on.
  bool relu_masked = false;
  for (size_t i = model.layers.size(); i-- > first;) {
    const ModelLayer& l = model.layers[i];
    const Activation& x = i == 0 ? acts.input : acts.out[i - 1];
    const Activation& y = acts.out[i];
    if (l.kind == LayerKind::relu && relu_masked) {
      relu_masked = false;
      continue;
    }
    const int64_t t0 = layer_ns ? steady_now_ns() : 0;
    if (pooled_first_conv(model, i, first)) {
      // The first layer's convolution takes the pool's error itself
      // (conv2d_pooled.hpp); its time counts as the convolution's.
      const ModelLayer& conv = model.layers[first];
      conv2d_pooled_backward(dy, x, first == 0 ? acts.input : acts.out[first - 1], p, conv.conv, reducer);
      if (layer_ns) (*layer_ns)[first] += steady_now_ns() - t0;
      break;
    }
    const bool need_din = i > first;
    Err dx = need_din ? make_tensor<int16_t>(arena, x.shape) : Err{};
    Err* din = need_din ? &dx : nullptr;
    switch (l.kind) {
      case LayerKind::conv2d: conv2d_backward(din, dy, x, p, l.conv, reducer); break;
      case LayerKind::linear: linear_backward(din, dy, x, p, l.linear, reducer); break;
      case LayerKind::relu: relu_backward(dx, dy, y); break;
      case LayerKind::maxpool:
        relu_masked = i > first && model.layers[i - 1].kind == LayerKind::relu && maxpool_folds_relu(l.pool);
        maxpool_backward(dx, dy, x, l.pool, relu_masked);
        break;
      case LayerKind::global_avgpool: global_avgpool_backward(dx, dy); break;
      case LayerKind::flatten: flatten_backward(dx, dy); break;
      case LayerKind::layernorm: layernorm_backward(dx, dy, x); break;
      case LayerKind::basic_block: basic_block_backward(din, dy, x, acts.block[i], p, l.block, arena, reducer); break;
    }
    if (layer_ns) (*layer_ns)[i] += steady_now_ns() - t0;
    dy = dx;
  }
}

}  // namespace zimt
