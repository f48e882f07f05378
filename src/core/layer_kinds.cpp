#include "zimt/layer_kinds.hpp"

#include <cassert>

#include "zimt/model_spec.hpp"

namespace zimt {

namespace {

std::string dims(const Shape3& s) {
  return std::to_string(s.c) + "x" + std::to_string(s.h) + "x" + std::to_string(s.w);
}

bool in_range(int64_t v) { return v >= 1 && v <= max_shape_value; }

std::string out_range_error() { return "out must be in [1, " + std::to_string(max_shape_value) + "]"; }

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

std::string windows(const LayerSpec& l, const Shape3& in, Shape3& out) {
  if (auto e = window(in.h, l.kernel, l.stride, l.padding, out.h); !e.empty()) return e;
  return window(in.w, l.kernel, l.stride, l.padding, out.w);
}

std::string same_shape(const LayerSpec&, const Shape3& in, Shape3& out) {
  out = in;
  return "";
}

int64_t no_params(const LayerSpec&, const Shape3&) { return 0; }

std::string conv2d_shape(const LayerSpec& l, const Shape3& in, Shape3& out) {
  if (!in_range(l.out)) return out_range_error();
  out.c = l.out;
  return windows(l, in, out);
}

int64_t conv2d_params(const LayerSpec& l, const Shape3& in) {
  return l.out * in.c * l.kernel * l.kernel + (l.bias ? l.out : 0);
}

std::string linear_shape(const LayerSpec& l, const Shape3& in, Shape3& out) {
  if (!in_range(l.out)) return out_range_error();
  if (in.h != 1 || in.w != 1)
    return "linear needs a flat input, got " + dims(in) + " (add {\"kind\":\"flatten\"} before it)";
  out = {l.out, 1, 1};
  return "";
}

int64_t linear_params(const LayerSpec& l, const Shape3& in) { return l.out * in.c + (l.bias ? l.out : 0); }

std::string maxpool_shape(const LayerSpec& l, const Shape3& in, Shape3& out) {
  if (l.padding * 2 > l.kernel) return "padding must be at most half the kernel";
  out.c = in.c;
  return windows(l, in, out);
}

std::string global_avgpool_shape(const LayerSpec&, const Shape3& in, Shape3& out) {
  out = {in.c, 1, 1};
  return "";
}

std::string flatten_shape(const LayerSpec&, const Shape3& in, Shape3& out) {
  if (in.numel() > max_shape_value) return "flattened size " + std::to_string(in.numel()) + " too large";
  out = {in.numel(), 1, 1};
  return "";
}

// conv 3x3 pad 1 with the block's stride; the 1x1 projection gives the same size.
std::string basic_block_shape(const LayerSpec& l, const Shape3& in, Shape3& out) {
  if (!in_range(l.out)) return out_range_error();
  out.c = l.out;
  if (auto e = window(in.h, 3, l.stride, 1, out.h); !e.empty()) return e;
  return window(in.w, 3, l.stride, 1, out.w);
}

int64_t basic_block_params(const LayerSpec& l, const Shape3& in) {
  const bool projection = l.stride != 1 || l.out != in.c;
  return l.out * in.c * 9 + l.out * l.out * 9 + (projection ? l.out * in.c : 0);
}

}  // namespace

bool accepts_widths(WidthRole role, ActivationWidth in, ActivationWidth out) {
  const bool in8 = in == ActivationWidth::int8, out8 = out == ActivationWidth::int8;
  switch (role) {
    case WidthRole::gemm: return true;
    case WidthRole::elementwise:
    case WidthRole::reshape: return in == out;
    case WidthRole::normalise: return out8 || !in8;
    case WidthRole::reduce: return out8;
    case WidthRole::block: return !out8 || in8;
  }
  return false;
}

const std::vector<LayerKindInfo>& layer_kinds() {
  static const std::vector<LayerKindInfo> kinds = {
      {LayerKind::conv2d,
       "conv2d",
       WidthRole::gemm,
       {"out", "kernel"},
       {"stride", "padding", "bias"},
       conv2d_shape,
       conv2d_params},
      {LayerKind::linear, "linear", WidthRole::gemm, {"out"}, {"bias"}, linear_shape, linear_params},
      {LayerKind::relu, "relu", WidthRole::elementwise, {}, {}, same_shape, no_params},
      {LayerKind::maxpool,
       "maxpool",
       WidthRole::elementwise,
       {"kernel"},
       {"stride", "padding"},
       maxpool_shape,
       no_params},
      {LayerKind::global_avgpool, "global_avgpool", WidthRole::reduce, {}, {}, global_avgpool_shape, no_params},
      {LayerKind::flatten, "flatten", WidthRole::reshape, {}, {}, flatten_shape, no_params},
      {LayerKind::layernorm, "layernorm", WidthRole::normalise, {}, {}, same_shape, no_params},
      {LayerKind::basic_block,
       "basic_block",
       WidthRole::block,
       {"out"},
       {"stride"},
       basic_block_shape,
       basic_block_params},
  };
  return kinds;
}

const LayerKindInfo& layer_kind_info(LayerKind kind) {
  const LayerKindInfo& info = layer_kinds()[static_cast<size_t>(kind)];
  assert(info.kind == kind);
  return info;
}

}  // namespace zimt
