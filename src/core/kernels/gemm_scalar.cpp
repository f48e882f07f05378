// Portable reference implementation: int64 products and sums (exact for any
// element values, k < 2^31).
#include "gemm_common.hpp"

namespace zimt::kernels::detail {

constinit const Implementation scalar_implementation{
    "scalar",
    [] { return true; },
    &reference_gemm_nt<int8_t, int16_t>,
    &reference_gemm_nt<int16_t, int8_t>,
    &reference_gemm_nt<int16_t, int16_t>,
    &reference_gemm_nt<int8_t, int8_t>,
    &reference_gemm_nt<int8_t, int16_t, int32_t>,
    &reference_gemm_nt<int16_t, int8_t, int32_t>,
    &reference_gemm_nt<int16_t, int16_t, int32_t>,
    &reference_gemm_nt<int8_t, int8_t, int32_t>,
    &reference_gemm_nt_segmented<int16_t, int8_t>,
    &reference_gemm_nt_segmented<int16_t, int16_t>,
    &reference_gemm_rows<int8_t, int64_t>,
    &reference_gemm_rows<int16_t, int64_t>,
    &reference_gemm_rows<int8_t, int32_t>,
    &reference_gemm_rows<int16_t, int32_t>,
};

}  // namespace zimt::kernels::detail
