#pragma once
// Synthetic image batches for the whole-model checks (tests/models). Tests
// only; links zimt_data for its class-prototype generator.
#include <cstdint>
#include <vector>

#include "zimt/model.hpp"

namespace zimt::ref {

// A batch of data::synthesize's learnable class prototypes: u8 images
// (N, C·H·W) and labels in [0, classes). `first` is the index of the batch's
// first sample (consecutive batches of one set: first = k·N), `noise_q16`
// the fraction of pixels replaced by noise (Q16; default 5 %).
struct Batch {
  std::vector<uint8_t> images;
  std::vector<uint8_t> labels;
};
Batch synthetic_batch(const Model& model, int64_t N, uint64_t seed, uint64_t first = 0,
                      uint32_t noise_q16 = 65536 / 20);

}  // namespace zimt::ref
