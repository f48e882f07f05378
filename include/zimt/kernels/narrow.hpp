#pragma once
// Weights of the int8 storage policy (|w| <= 127, held in the int16 arena:
// param.hpp) as int8, so that the layers can hand them to gemm_nt's int8
// kernels: int8 x int8 runs on vpdpbusd, four products per lane instead of
// vpdpwssd's two, and int8 operands are packed from half the bytes.
#include <cstdint>

namespace zimt::kernels {

// out[i] = w[i] for i < count; every |w[i]| must be <= 127.
void narrow_to_int8(int8_t* out, const int16_t* w, int64_t count);

}  // namespace zimt::kernels
