#pragma once
// The order in which a run visits its training samples: a function of
// (seed, epoch) only, so a resumed run picks up at (epoch, position) and sees
// exactly the batches an uninterrupted run would.
#include <cstdint>
#include <vector>

namespace zimt {

// A permutation of 0..n-1 for `epoch` (Fisher-Yates; the swap partner of
// position i is uniform_below(i + 1) from WordStream(seed, Stream::shuffle,
// epoch, i), so every permutation is equally likely). shuffle = false gives
// the identity.
std::vector<uint32_t> epoch_order(uint32_t n, uint64_t seed, uint64_t epoch, bool shuffle);

}  // namespace zimt
