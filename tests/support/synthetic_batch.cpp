#include "synthetic_batch.hpp"

#include <utility>

#include "zimt/data/synth.hpp"

namespace zimt::ref {

Batch synthetic_batch(const Model& model, int64_t N, uint64_t seed, uint64_t first, uint32_t noise_q16) {
  data::SynthSpec spec;
  spec.samples = static_cast<uint64_t>(N);
  spec.classes = static_cast<uint32_t>(model.spec.classes);
  spec.shape = {static_cast<uint32_t>(model.spec.input.c), static_cast<uint32_t>(model.spec.input.h),
                static_cast<uint32_t>(model.spec.input.w)};
  spec.seed = seed;
  spec.first = first;
  spec.noise_q16 = noise_q16;
  data::Samples s = data::synthesize(spec);
  return {std::move(s.images), std::move(s.labels)};
}

}  // namespace zimt::ref
