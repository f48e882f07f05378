// AVX2 kernels (no AVX-512/VNNI assumed). Exact by the bounds in gemm.hpp:
//   int8 x int16 : sign-extend a to int16 (vpmovsxbw), vpmaddwd (exact: two
//                  products of at most 2^22 each) into int32 lanes, widened
//                  to int64 every kFlushSteps steps.
//   int16 x int16: sign-extend both to int32, vpmuldq on even and odd lanes
//                  gives exact int64 products, summed in int64.
// (vpmaddubsw is avoided: it saturates to int16.)
#include <immintrin.h>

#include "zimt/kernels/gemm.hpp"

namespace zimt::kernels::avx2 {

namespace {

// 128 steps of vpmaddwd add < 128 * 2^23 = 2^30 to an int32 lane.
constexpr int64_t kFlushSteps = 128;

__attribute__((target("avx2"))) int64_t hsum_epi64(__m256i v) {
  const __m128i s = _mm_add_epi64(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  return _mm_cvtsi128_si64(s) + _mm_extract_epi64(s, 1);
}

__attribute__((target("avx2"))) __m256i widen_add(__m256i acc64, __m256i v32) {
  acc64 = _mm256_add_epi64(acc64, _mm256_cvtepi32_epi64(_mm256_castsi256_si128(v32)));
  return _mm256_add_epi64(acc64, _mm256_cvtepi32_epi64(_mm256_extracti128_si256(v32, 1)));
}

}  // namespace

bool available() { return __builtin_cpu_supports("avx2"); }

__attribute__((target("avx2"))) int64_t dot(const int8_t* a, const int16_t* b, int64_t k) {
  __m256i acc64 = _mm256_setzero_si256();
  int64_t i = 0;
  while (i + 16 <= k) {
    __m256i acc32 = _mm256_setzero_si256();
    for (int64_t step = 0; step < kFlushSteps && i + 16 <= k; ++step, i += 16) {
      const __m256i a16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i)));
      const __m256i b16 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + i));
      acc32 = _mm256_add_epi32(acc32, _mm256_madd_epi16(a16, b16));
    }
    acc64 = widen_add(acc64, acc32);
  }
  int64_t s = hsum_epi64(acc64);
  for (; i < k; ++i) s += int64_t{a[i]} * b[i];
  return s;
}

__attribute__((target("avx2"))) int64_t dot(const int16_t* a, const int16_t* b, int64_t k) {
  __m256i acc64 = _mm256_setzero_si256();
  int64_t i = 0;
  for (; i + 8 <= k; i += 8) {
    const __m256i a32 = _mm256_cvtepi16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i)));
    const __m256i b32 = _mm256_cvtepi16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i)));
    acc64 = _mm256_add_epi64(acc64, _mm256_mul_epi32(a32, b32));
    acc64 = _mm256_add_epi64(acc64, _mm256_mul_epi32(_mm256_srli_epi64(a32, 32), _mm256_srli_epi64(b32, 32)));
  }
  int64_t s = hsum_epi64(acc64);
  for (; i < k; ++i) s += int64_t{a[i]} * b[i];
  return s;
}

}  // namespace zimt::kernels::avx2
