#pragma once
// Real-valued optimizer parameters (c, alpha, learning rates, fractions,
// schedule factors) in fixed point: Q32.32 in an int64,
//
//   real value = q / 2^32          (q32_one = 1.0, q32_one / 2 = 0.5)
//
// The config loader (zimt_runs) converts each JSON number once, at load, with
// q = round-half-even(x * 2^32); |x| must stay below 2^31. Resolution is
// 2^-32 ~ 2.3e-10, which is finer than any hyper-parameter anyone types.
#include <cstdint>

namespace zimt::optim {

using q32 = int64_t;
inline constexpr q32 q32_one = int64_t{1} << 32;

// round-half-even(x * q / 2^32) for x >= 0 and q >= 0, saturated at INT64_MAX.
// Used to scale counts (trials, steps) by fractions and schedule factors.
int64_t scale_count(int64_t x, q32 q);

// round-half-even(a * b / 2^32): the Q32.32 product, saturated at +-INT64_MAX.
q32 q32_mul(q32 a, q32 b);

}  // namespace zimt::optim
