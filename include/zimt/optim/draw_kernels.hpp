#pragma once
// The multinomial sampler's per-draw arithmetic (sampler.cpp), on the
// sampler's Philox path: PhiloxPath::avx512 runs AVX-512 code (eight 64-bit
// or sixteen 32-bit lanes), the other paths portable code; both give the same
// results for every input (tests/core/test_draw_kernels.cpp).
#include "zimt/optim/philox_batch.hpp"

#include <cstddef>
#include <cstdint>

namespace zimt::optim {

// Lemire's multiply for `size` words: draws[k] = floor(w[k] · bound / 2^64).
// Returns whether some low half (w[k] · bound mod 2^64) is below bound, i.e.
// whether a word may have to be rejected. bound < 2^55.
bool multiply_draws_on(PhiloxPath path, const uint64_t* w, size_t size, uint64_t bound, uint64_t* draws);

// The values below `bound`, in order: below[0 .. returned count) = those
// v[k] < bound, k < size (below has room for size values).
size_t below_on(PhiloxPath path, const uint64_t* v, size_t size, uint64_t bound, uint64_t* below);

// The first entry of a lookup table with 2^shift values per entry that each
// of `count` non-decreasing starts owns: first[i] = min(ceil(start[i] /
// 2^shift), entries). shift < 64.
void first_entries_on(PhiloxPath path, const uint64_t* start, size_t count, int shift, uint32_t entries,
                      uint32_t* first);

// Running sums from 0: cumulative[0] = 0, cumulative[i + 1] = cumulative[i] +
// m[i] for i < count (count + 1 values, the last the total, which must fit 64
// bits).
void running_sums_on(PhiloxPath path, const uint64_t* m, size_t count, uint64_t* cumulative);

// Running maximum in place: v[g] = max(v[0], ..., v[g]) for g < count.
void running_max_on(PhiloxPath path, uint32_t* v, size_t count);

}  // namespace zimt::optim
