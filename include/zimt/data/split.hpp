#pragma once
// A deterministic hold-out split: which samples go to validation is a pure
// function of (count, held-out count, seed), drawn with Philox on
// Stream::split, so the same seed always holds out the same samples.
#include "zimt/data/samples.hpp"

#include <cstdint>
#include <string>
#include <utility>

namespace zimt::data {

// Sorted indices of the `held_out` samples (of `count`) that go to validation:
// a partial Fisher-Yates shuffle of 0..count-1 whose step j draws
// uniform_below(count - j) from WordStream(seed, Stream::split, 0, j).
std::vector<uint64_t> held_out_indices(uint64_t count, uint64_t held_out, uint64_t seed);

// (kept, held out), each in the original order.
std::pair<Samples, Samples> split_samples(const Samples& s, uint64_t held_out, uint64_t seed);

// "--split" values: a fraction in (0,1) (contains '.'; held = round(f*count),
// halves away from zero) or a count. The result is in 1..count-1, else throws
// std::runtime_error("--split: ...").
uint64_t parse_split(const std::string& text, uint64_t count);

}  // namespace zimt::data
