#pragma once
// Counter-based random numbers (Philox4x32-10 from Random123).
//
// Every random draw in zimt is a pure function of
//   (seed, stream, step, index)
// so results do not depend on thread count, partitioning or call order, and a
// resumed run draws exactly what an uninterrupted one would.
//   seed   : the run's 64-bit seed (Philox key)
//   stream : what the numbers are for (see Stream), so uses never collide
//   step   : the training step (or epoch, for shuffles)
//   index  : position within that step (trial number, element number, ...)
#include <Random123/philox.h>

#include <array>
#include <cstdint>

#include "zimt/numerics.hpp"

namespace zimt {

enum class Stream : uint32_t {
  init = 1,              // integer weight initialisation
  shuffle = 2,           // data order per epoch
  sample = 3,            // ZIM multinomial trials
  stochastic_round = 4,  // reserved: no requantisation rounds stochastically (docs/design.md, Rounding)
  sgd_round = 5,         // integer SGD's stochastic rounding of updates
  split = 6,             // dataset train/validation split
  test_data = 7,         // generated data in tests and `zimt convert --synthetic`
};

using Block = std::array<uint32_t, 4>;

// One Philox block: 128 random bits for counter (index, step, stream).
inline Block philox(uint64_t seed, Stream stream, uint64_t step, uint64_t index) {
  r123::Philox4x32 gen;
  r123::Philox4x32::ctr_type ctr = {{static_cast<uint32_t>(index), static_cast<uint32_t>(index >> 32),
                                     static_cast<uint32_t>(step) ^ static_cast<uint32_t>(step >> 32) * 0x9E3779B9u,
                                     static_cast<uint32_t>(stream)}};
  r123::Philox4x32::key_type key = {{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)}};
  const auto out = gen(ctr, key);
  return {out[0], out[1], out[2], out[3]};
}

inline uint64_t lo64(const Block& b) { return uint64_t{b[0]} | uint64_t{b[1]} << 32; }
inline uint64_t hi64(const Block& b) { return uint64_t{b[2]} | uint64_t{b[3]} << 32; }

// Unbiased uniform integer in [0, bound) from a stream of 64-bit words
// (Lemire, "Fast Random Integer Generation in an Interval", 2019).
// `next()` yields 64 random bits; it is called again only on rejection,
// which happens with probability < bound / 2^64. bound must be > 0.
template <class Next>
inline uint64_t uniform_below(uint64_t bound, Next&& next) {
  u128 m = static_cast<u128>(next()) * bound;
  uint64_t low = static_cast<uint64_t>(m);
  if (low < bound) {
    const uint64_t threshold = (0 - bound) % bound;
    while (low < threshold) {
      m = static_cast<u128>(next()) * bound;
      low = static_cast<uint64_t>(m);
    }
  }
  return static_cast<uint64_t>(m >> 64);
}

// A per-index sequence of 64-bit words: words 2r and 2r+1 come from the block
// at counter index ^ (r << 56), so indices must stay below 2^56. Used where one
// index may need more than 128 random bits (rejections); the first two words
// cost one Philox call.
class WordStream {
 public:
  WordStream(uint64_t seed, Stream stream, uint64_t step, uint64_t index)
      : seed_(seed), stream_(stream), step_(step), index_(index) {}
  uint64_t operator()() {
    if (k_ % 2 == 0) block_ = philox(seed_, stream_, step_, index_ ^ ((k_ / 2) << 56));
    return (k_++ % 2 == 0) ? lo64(block_) : hi64(block_);
  }

 private:
  uint64_t seed_;
  Stream stream_;
  uint64_t step_;
  uint64_t index_;
  uint64_t k_ = 0;
  Block block_{};
};

}  // namespace zimt
