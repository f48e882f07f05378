#include "zimt/optim/draw_kernels.hpp"

#include <algorithm>

#include "draw_kernels_avx512.hpp"
#include "zimt/numerics.hpp"

namespace zimt::optim {

namespace detail {

bool multiply_draws_portable(const uint64_t* w, size_t size, uint64_t bound, uint64_t* draws) {
  bool rejected = false;
  for (size_t k = 0; k < size; ++k) {
    const u128 m = static_cast<u128>(w[k]) * bound;
    draws[k] = static_cast<uint64_t>(m >> 64);
    rejected |= static_cast<uint64_t>(m) < bound;
  }
  return rejected;
}

size_t below_portable(const uint64_t* v, size_t size, uint64_t bound, uint64_t* below) {
  size_t count = 0;
  for (size_t k = 0; k < size; ++k) {
    below[count] = v[k];  // written always, kept when below bound: no branch
    count += v[k] < bound;
  }
  return count;
}

void first_entries_portable(const uint64_t* start, size_t count, int shift, uint32_t entries, uint32_t* first) {
  const uint64_t round_up = (uint64_t{1} << shift) - 1;
  for (size_t i = 0; i < count; ++i) {
    const uint64_t entry = (start[i] >> shift) + ((start[i] & round_up) != 0);
    first[i] = static_cast<uint32_t>(std::min<uint64_t>(entry, entries));
  }
}

uint64_t running_sums_portable(const uint64_t* m, size_t count, uint64_t carry, uint64_t* cumulative) {
  cumulative[0] = carry;
  for (size_t i = 0; i < count; ++i) {
    carry += m[i];
    cumulative[i + 1] = carry;
  }
  return carry;
}

uint32_t running_max_portable(uint32_t* v, size_t count, uint32_t carry) {
  for (size_t g = 0; g < count; ++g) {
    carry = std::max(carry, v[g]);
    v[g] = carry;
  }
  return carry;
}

}  // namespace detail

bool multiply_draws_on(PhiloxPath path, const uint64_t* w, size_t size, uint64_t bound, uint64_t* draws) {
  return path == PhiloxPath::avx512 ? detail::multiply_draws_avx512(w, size, bound, draws)
                                    : detail::multiply_draws_portable(w, size, bound, draws);
}

size_t below_on(PhiloxPath path, const uint64_t* v, size_t size, uint64_t bound, uint64_t* below) {
  return path == PhiloxPath::avx512 ? detail::below_avx512(v, size, bound, below)
                                    : detail::below_portable(v, size, bound, below);
}

void first_entries_on(PhiloxPath path, const uint64_t* start, size_t count, int shift, uint32_t entries,
                      uint32_t* first) {
  if (path == PhiloxPath::avx512)
    detail::first_entries_avx512(start, count, shift, entries, first);
  else
    detail::first_entries_portable(start, count, shift, entries, first);
}

void running_sums_on(PhiloxPath path, const uint64_t* m, size_t count, uint64_t* cumulative) {
  if (path == PhiloxPath::avx512)
    detail::running_sums_avx512(m, count, cumulative);
  else
    detail::running_sums_portable(m, count, 0, cumulative);
}

void running_max_on(PhiloxPath path, uint32_t* v, size_t count) {
  if (path == PhiloxPath::avx512)
    detail::running_max_avx512(v, count);
  else
    detail::running_max_portable(v, count, 0);
}

}  // namespace zimt::optim
