#include "zimt/runs/memory_limit.hpp"

#include "zimt/data/byte_size.hpp"

#include <cctype>
#include <limits>
#include <stdexcept>

namespace zimt::runs {
namespace {

constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

uint64_t mul(uint64_t a, uint64_t b) { return a != 0 && b > kMax / a ? kMax : a * b; }
uint64_t add(uint64_t a, uint64_t b) { return b > kMax - a ? kMax : a + b; }
uint64_t n(int64_t v) { return v > 0 ? static_cast<uint64_t>(v) : 0; }

}  // namespace

MemoryEstimate estimate_training_memory(const ModelSpec& model, uint64_t batch) {
  constexpr uint64_t kPerParameter = 16, kPerOutput = 16, kBlockIntermediates = 4, kPatchBytes = 2 * 2;
  MemoryEstimate e;
  uint64_t per_sample = mul(n(model.input.numel()), 4);  // gathered u8 images and the int8/int16 input
  Shape3 in = model.input;
  for (const LayerSpec& layer : model.layers) {
    Shape3 out;
    if (!layer_output_shape(layer, in, out).empty()) break;  // check_model_spec reports it
    e.parameters = add(e.parameters, mul(n(layer_param_count(layer, in)), kPerParameter));
    const uint64_t outputs = n(out.numel());
    per_sample = add(per_sample, mul(outputs, kPerOutput));
    if (layer.kind == LayerKind::conv2d)
      per_sample = add(per_sample, mul(mul(n(in.c * layer.kernel * layer.kernel), n(out.h * out.w)), kPatchBytes));
    if (layer.kind == LayerKind::basic_block)
      per_sample = add(per_sample, add(mul(outputs, kPerOutput * kBlockIntermediates),
                                       mul(mul(outputs, 9), kPatchBytes * 2)));  // two 3x3 convs' patches
    in = out;
  }
  e.activations = mul(per_sample, batch);
  return e;
}

uint64_t parse_memory_size(const std::string& text) {
  const auto bad = [&] {
    return std::invalid_argument("memory size '" + text + "': expected bytes or a number with K, M, G or T (binary)");
  };
  size_t used = 0;
  uint64_t value = 0;
  try {
    if (text.empty() || !std::isdigit(static_cast<unsigned char>(text[0]))) throw bad();
    value = std::stoull(text, &used);
  } catch (const std::logic_error&) {
    throw bad();
  }
  const std::string unit = text.substr(used);
  const std::string units = "KMGT";
  if (unit.empty()) return value;
  const auto at = units.find(static_cast<char>(std::toupper(static_cast<unsigned char>(unit[0]))));
  if (at == std::string::npos || (unit.size() > 1 && unit.substr(1) != "iB" && unit.substr(1) != "B")) throw bad();
  for (size_t i = 0; i <= at; ++i) value = mul(value, 1024);
  return value;
}

void check_memory(const MemoryEstimate& e, uint64_t batch, uint64_t limit, bool limit_is_machine,
                  const std::string& what) {
  if (e.total() <= limit) return;
  throw std::runtime_error(what + " needs about " + data::format_bytes(e.total()) + " (parameters " +
                           data::format_bytes(e.parameters) + ", activations for a batch of " + std::to_string(batch) +
                           ": " + data::format_bytes(e.activations) + "), over the memory limit of " +
                           data::format_bytes(limit) + (limit_is_machine ? " (the machine's)" : " (--memory-limit)") +
                           "; lower /train/batch_size or raise --memory-limit");
}

}  // namespace zimt::runs
