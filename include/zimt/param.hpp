#pragma once
// A model's parameters: one arena of integer weights and one of exact integer
// gradients, with a table describing the tensors inside them. This is the
// meeting point of the layers (which read w and write g), the optimizers
// (which read g and write w) and checkpoints (which write the arenas out).
//
//   real weight   = w[k] * 2^w_exp   (w_exp = 0 under ZIM: the integer is the weight)
//   real gradient = g[k] * 2^g_exp   (dL/d(real weight); never clipped, exact zeros stay zero)
//
// Storage policy. The arena holds int16 values so that one kernel path
// serves both policies; the policy bounds what may be stored:
//   WeightStorage::int8  : |w| <= 127    (the default; writes saturate and are counted)
//   WeightStorage::int16 : |w| <= 32767  (for experiments where weights outgrow int8)
// Under the int8 policy every weight fits an int8 and checkpoints store it as
// one byte. -128 / -32768 are never used, so negation is always exact.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace zimt {

enum class WeightStorage : uint8_t { int8 = 8, int16 = 16 };

constexpr int32_t weight_limit(WeightStorage s) { return s == WeightStorage::int8 ? 127 : 32767; }

enum class ParamKind : uint8_t { weight, bias, norm_scale };

struct ParamInfo {
  std::string name;            // "conv1.weight", "layer2.0.conv1.weight", ...
  std::vector<int64_t> shape;  // e.g. {out_channels, in_channels, kh, kw}
  ParamKind kind = ParamKind::weight;
  size_t offset = 0;  // into ParamSet::w and ParamSet::g
  size_t numel = 0;
  int w_exp = 0;  // exponent of the weights (per tensor)
  int g_exp = 0;  // exponent of the gradient mantissas (per tensor, set by backward)
};

struct ParamSet {
  WeightStorage storage = WeightStorage::int8;
  std::vector<ParamInfo> tensors;
  std::vector<int16_t> w;  // all weights, tensor after tensor
  std::vector<int64_t> g;  // all gradients, same layout

  size_t size() const { return w.size(); }

  // Appends a tensor of zeros and returns its index in `tensors`.
  size_t add(std::string name, std::vector<int64_t> shape, ParamKind kind, int w_exp = 0) {
    size_t numel = 1;
    for (int64_t s : shape) numel *= static_cast<size_t>(s);
    tensors.push_back({std::move(name), std::move(shape), kind, w.size(), numel, w_exp, 0});
    w.resize(w.size() + numel, 0);
    g.resize(g.size() + numel, 0);
    return tensors.size() - 1;
  }
  int16_t* weights(size_t t) { return w.data() + tensors[t].offset; }
  const int16_t* weights(size_t t) const { return w.data() + tensors[t].offset; }
  int64_t* grads(size_t t) { return g.data() + tensors[t].offset; }
  const int64_t* grads(size_t t) const { return g.data() + tensors[t].offset; }
};

}  // namespace zimt
