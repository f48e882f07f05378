#pragma once
// draw_kernels.hpp's two versions (draw_kernels.cpp, draw_kernels_avx512.cpp);
// the AVX-512 ones hand their short tails to the portable ones.
#include <cstddef>
#include <cstdint>

namespace zimt::optim::detail {

bool multiply_draws_portable(const uint64_t* w, size_t size, uint64_t bound, uint64_t* draws);
size_t below_portable(const uint64_t* v, size_t size, uint64_t bound, uint64_t* below);
void first_entries_portable(const uint64_t* start, size_t count, int shift, uint32_t entries, uint32_t* first);
// Returns the last sum (carry: the sum before m[0], written to cumulative[0]).
uint64_t running_sums_portable(const uint64_t* m, size_t count, uint64_t carry, uint64_t* cumulative);
// Returns the last maximum (carry, the maximum before v[0]).
uint32_t running_max_portable(uint32_t* v, size_t count, uint32_t carry);

bool multiply_draws_avx512(const uint64_t* w, size_t size, uint64_t bound, uint64_t* draws);
size_t below_avx512(const uint64_t* v, size_t size, uint64_t bound, uint64_t* below);
void first_entries_avx512(const uint64_t* start, size_t count, int shift, uint32_t entries, uint32_t* first);
void running_sums_avx512(const uint64_t* m, size_t count, uint64_t* cumulative);
void running_max_avx512(uint32_t* v, size_t count);

}  // namespace zimt::optim::detail
