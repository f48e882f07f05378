#include "zimt/optim/zim.hpp"

#include <algorithm>
#include <stdexcept>

namespace zimt::optim {

namespace {

// The scaled magnitudes of the slices, a block at a time (entries not stored).
class SliceMagnitudes final : public BlockMagnitudes {
 public:
  SliceMagnitudes(std::span<const GradientSlice> slices, const ScaledGradient& scaled)
      : slices_(slices), scaled_(scaled) {}
  void fill(size_t begin, size_t size, uint64_t* out) const override {
    int8_t sign[category_block];  // not needed: blocks are at most category_block
    scaled_entries(slices_, scaled_, begin, std::min(size, category_block), out, sign);
  }

 private:
  std::span<const GradientSlice> slices_;
  const ScaledGradient& scaled_;
};

// Scales the slices' gradients for the rule, then draw(cat, d) with d the slices' total size.
template <class Draw>
ZimDraw scale_and_draw(std::span<const GradientSlice> slices, const ZimRuleParams& rule, ZimWorkspace& ws,
                       Draw&& draw) {
  if (rule.n < 0 || rule.n > INT32_MAX) throw std::invalid_argument("zim_sample: n must be in [0, 2^31)");
  if (rule.c < 0 || rule.alpha < 0) throw std::invalid_argument("zim_sample: c and alpha must be >= 0");
  size_t d = 0;
  for (const GradientSlice& s : slices) d += s.size;
  ZimDraw result{rule.n, false};
  CategoryWeights cat;
  const SliceMagnitudes on_demand(slices, ws.scaled);
  if (rule.rule == ZimRule::authors) {
    // Weights |g_i| + c on one scale.
    scale_gradients(slices, q32_one, rule.c, ws.scaled, ws.entries);
    cat = {ws.scaled.magnitude, ws.scaled.block_sum, ws.scaled.magnitude_sum, ws.scaled.constant, 0};
  } else {
    // Weights alpha |g_i| and the zero category n - alpha ||g||_1, on the
    // scale of max(alpha |g_i|, n). n < 2^31, so n * 2^32 fits a q32.
    scale_gradients(slices, rule.alpha, rule.n * q32_one, ws.scaled, ws.entries);
    const uint64_t n_scaled = ws.scaled.constant;
    result.fallback = ws.scaled.magnitude_sum > n_scaled;
    cat = {ws.scaled.magnitude, ws.scaled.block_sum, ws.scaled.magnitude_sum, 0,
           result.fallback ? 0 : n_scaled - ws.scaled.magnitude_sum};
  }
  if (ws.entries != ScaledEntries::stored) cat.source = &on_demand;
  draw(cat, d);
  return result;
}

}  // namespace

ZimDraw zim_sample(std::span<const GradientSlice> slices, const ZimRuleParams& rule, const SampleKey& key,
                   std::span<int32_t> counts, ZimWorkspace& ws, const BatchReducer& group) {
  size_t d = 0;
  for (const GradientSlice& s : slices) d += s.size;
  if (counts.size() != d) throw std::invalid_argument("zim_sample: counts.size() != the slices' total size");
  return scale_and_draw(slices, rule, ws, [&](const CategoryWeights& cat, size_t) {
    ws.sampler.sample(cat, rule.n, key, counts, group);
  });
}

ZimDraw zim_sample(std::span<const GradientSlice> slices, const ZimRuleParams& rule, const SampleKey& key,
                   BlockCounts& sink, ZimWorkspace& ws, const BatchReducer& group) {
  return scale_and_draw(slices, rule, ws, [&](const CategoryWeights& cat, size_t d) {
    ws.sampler.sample(cat, d, rule.n, key, sink, group);
  });
}

}  // namespace zimt::optim
