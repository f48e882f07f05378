#pragma once
// Philox4x32-10 for a run of 16 consecutive counter indices at once, on one
// of three instruction-set paths that produce the same words: scalar (the 16
// counters' rounds interleave, which keeps the multipliers busy), AVX2 (two
// registers of eight lanes) and AVX-512 (two registers of eight 64-bit
// lanes, one block per lane). All are bit-identical to zimt::philox
// (rng.hpp) for every index: tested.
#include "zimt/rng.hpp"

#include <cstdint>

namespace zimt::optim {

inline constexpr int philox_lanes = 16;

// Lane k holds the 128 bits of counter first_index + k as four 32-bit words.
struct PhiloxBatch {
  uint32_t x0[philox_lanes], x1[philox_lanes], x2[philox_lanes], x3[philox_lanes];
  uint64_t lo64(int k) const { return uint64_t{x0[k]} | uint64_t{x1[k]} << 32; }
  uint64_t hi64(int k) const { return uint64_t{x2[k]} | uint64_t{x3[k]} << 32; }
};

// Lane k's counter (first_index + k, step, stream), before the rounds.
inline void philox_counters(Stream stream, uint64_t step, uint64_t first_index, PhiloxBatch& out) {
  const uint32_t step_word = static_cast<uint32_t>(step) ^ static_cast<uint32_t>(step >> 32) * 0x9E3779B9u;
  for (int k = 0; k < philox_lanes; ++k) {
    const uint64_t index = first_index + static_cast<uint64_t>(k);
    out.x0[k] = static_cast<uint32_t>(index);
    out.x1[k] = static_cast<uint32_t>(index >> 32);
    out.x2[k] = step_word;
    out.x3[k] = static_cast<uint32_t>(stream);
  }
}

// out lane k = philox(seed, stream, step, first_index + k), scalar path.
inline void philox_batch(uint64_t seed, Stream stream, uint64_t step, uint64_t first_index, PhiloxBatch& out) {
  philox_counters(stream, step, first_index, out);
  uint32_t key0 = static_cast<uint32_t>(seed);
  uint32_t key1 = static_cast<uint32_t>(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    for (int k = 0; k < philox_lanes; ++k) {
      const uint64_t p0 = uint64_t{0xD2511F53u} * out.x0[k];
      const uint64_t p1 = uint64_t{0xCD9E8D57u} * out.x2[k];
      const uint32_t n0 = static_cast<uint32_t>(p1 >> 32) ^ out.x1[k] ^ key0;
      const uint32_t n2 = static_cast<uint32_t>(p0 >> 32) ^ out.x3[k] ^ key1;
      out.x1[k] = static_cast<uint32_t>(p1);
      out.x3[k] = static_cast<uint32_t>(p0);
      out.x0[k] = n0;
      out.x2[k] = n2;
    }
    key0 += 0x9E3779B9u;
    key1 += 0xBB67AE85u;
  }
}

enum class PhiloxPath : uint8_t { scalar, avx2, avx512 };

// Whether this CPU can run `path` (scalar always).
bool philox_path_supported(PhiloxPath path);

// The widest path this CPU supports (checked once).
PhiloxPath best_philox_path();

// The 64-bit words of 16 consecutive Philox blocks in counter order:
// words[2k] = lo64 and words[2k + 1] = hi64 of philox(seed, stream, step,
// first_index + k), computed on `path`, which must be supported.
using PhiloxWords = uint64_t[2 * philox_lanes];
void philox_words_on(PhiloxPath path, uint64_t seed, Stream stream, uint64_t step, uint64_t first_index,
                     PhiloxWords& words);

// The same for a run of 64 consecutive blocks (four batches):
// words[2k] = lo64 and words[2k + 1] = hi64 of philox(seed, stream, step,
// first_index + k). On the AVX-512 path the rounds of four registers (32
// blocks) interleave, which hides the multiplier's latency.
inline constexpr int philox_run_blocks = 4 * philox_lanes;
using PhiloxRunWords = uint64_t[2 * philox_run_blocks];
void philox_run_on(PhiloxPath path, uint64_t seed, Stream stream, uint64_t step, uint64_t first_index,
                   PhiloxRunWords& words);

}  // namespace zimt::optim
