#pragma once
// The 8x8 int32 transpose of the AVX2 packing of B, shared by gemm_avx2.cpp
// and gemm_avxvnni.cpp (internal to src/core/kernels).
#include <immintrin.h>

namespace zimt::kernels::detail {

// Transposes 8 rows of 8 int32 words in place: r[i] word j -> r[j] word i.
__attribute__((target("avx2"))) inline void transpose8(__m256i r[8]) {
  __m256i t[8], u[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_epi32(r[i], r[i + 1]);      // per 128-bit lane L: words 4L, 4L+1 of rows i, i+1
    t[i + 1] = _mm256_unpackhi_epi32(r[i], r[i + 1]);  // words 4L+2, 4L+3
  }
  for (int g = 0; g < 8; g += 4) {  // u[g + c], lane L: word 4L + c of rows g..g+3
    u[g + 0] = _mm256_unpacklo_epi64(t[g], t[g + 2]);
    u[g + 1] = _mm256_unpackhi_epi64(t[g], t[g + 2]);
    u[g + 2] = _mm256_unpacklo_epi64(t[g + 1], t[g + 3]);
    u[g + 3] = _mm256_unpackhi_epi64(t[g + 1], t[g + 3]);
  }
  for (int c = 0; c < 4; ++c) {
    r[c] = _mm256_permute2x128_si256(u[c], u[4 + c], 0x20);      // word c of all rows
    r[c + 4] = _mm256_permute2x128_si256(u[c], u[4 + c], 0x31);  // word c + 4
  }
}

}  // namespace zimt::kernels::detail
