#pragma once
// The largest magnitude of a tensor: the operand bound with which the layers
// decide whether a GEMM's exact sums fit int32 (gemm.hpp, sum_fits_int32).
#include <cstdint>

namespace zimt::kernels {

// max_i |x[i]| for i < count (0 when count is 0); |-32768| = 32768, |INT32_MIN| = 2^31.
int64_t max_abs(const int8_t* x, int64_t count);
int64_t max_abs(const int16_t* x, int64_t count);
int64_t max_abs(const int32_t* x, int64_t count);

}  // namespace zimt::kernels
