#pragma once
// A generated dataset for tests and tiny configs, integer-only and a pure
// function of its spec. Each class has a prototype: a grid of roughly 4x4
// cells per channel, each cell dark or lit with a random intensity. A sample
// of class k is its prototype, faintly blended with another class's
// prototype, shifted by up to one cell-third in each direction, with a
// fraction `noise` of its pixels replaced by uniform random values. Classes
// are learnable, but not by a single pixel.
//
// Random draws: Philox keyed (seed, Stream::test_data, step, index):
//   step 0,        index k            class k's prototype (WordStream)
//   step 1,        index i            sample i's label, distractor, blend, shift (WordStream)
//   step 2 + b,    index i            sample i's pixel noise, 4 pixels per block b
// Sample i depends only on (spec without samples/first, i): a test set is the
// same spec with `first` past the training samples (same prototypes, new samples).
#include "zimt/data/samples.hpp"

#include <cstdint>

namespace zimt::data {

struct SynthSpec {
  uint64_t samples = 0;  // >= 1
  uint32_t classes = 0;  // 2..256
  Shape shape;           // each dimension >= 1
  uint64_t seed = 0;
  uint64_t first = 0;      // index of the first sample generated
  uint32_t noise_q16 = 0;  // per-pixel replacement probability * 65536, 0..65536
};

// Throws std::invalid_argument on an out-of-range spec.
Samples synthesize(const SynthSpec& spec);

}  // namespace zimt::data
