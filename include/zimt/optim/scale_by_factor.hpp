#pragma once
// One step of the optimizer scaling (common_scale.hpp) on two
// instruction-set paths with the same results (tested). For a factor that
// is no power of two (the zero-inflated rule's alpha), entries stored or
// only summed:
//   magnitude[i] = round-half-even(|g_i| k / 2^right), sign[i] = sign(g_i)
// for 0 < right < 128 and magnitudes known to fit 64 bits (the scale choice
// bounds them by 2^budget). The exact product |g_i| k has up to 127 bits.
// For a power of two (the authors' rule's factor 1), folded into a shift:
//   magnitude[i] = round-half-even(|g_i| 2^shift), -63 < shift < 64.
#include <cstddef>
#include <cstdint>

namespace zimt::optim {

enum class ScalePath : uint8_t { scalar, avx512 };

// Whether this CPU can run `path` (scalar always).
bool scale_path_supported(ScalePath path);

// The widest path this CPU supports (checked once).
ScalePath best_scale_path();

// What a pass over g[0, size) returns: the sum of the magnitudes, and the
// OR of every |g_i| (its bit length is the largest |g_i|'s, which the scale
// choice needs: common_scale.cpp).
struct ScaledSum {
  uint64_t sum = 0;
  uint64_t abs_or = 0;
};

// g, sign and magnitude are (size).
ScaledSum scale_by_factor_on(ScalePath path, const int64_t* g, int8_t* sign, uint64_t* magnitude, size_t size,
                             uint64_t k, int right);

// g, sign and magnitude are (size).
ScaledSum scale_by_power_of_two_on(ScalePath path, const int64_t* g, int8_t* sign, uint64_t* magnitude, size_t size,
                                   int shift);

// The factor's sum without storing the magnitudes or signs; zero gradients cost
// little (the AVX-512 path rounds only the nonzero ones).
ScaledSum sum_scaled_by_factor_on(ScalePath path, const int64_t* g, size_t size, uint64_t k, int right);

}  // namespace zimt::optim
