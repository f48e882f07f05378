// GCC 12 reports its own _mm512_undefined_* placeholders (self-initialised
// on purpose) inside the shift and multiply intrinsics as uninitialized.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include "zimt/optim/philox_batch.hpp"

#include <immintrin.h>

namespace zimt::optim {

namespace {

// 32 x 32 -> 64-bit products of eight lanes: high and low halves per lane.
__attribute__((target("avx2"))) void mulhilo8(__m256i x, __m256i multiplier, __m256i& hi, __m256i& lo) {
  const __m256i even = _mm256_mul_epu32(x, multiplier);                        // lanes 0, 2, 4, 6
  const __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(x, 32), multiplier);  // lanes 1, 3, 5, 7
  hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
  lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
}

// The rounds of philox_batch, eight lanes per AVX2 register.
__attribute__((target("avx2"))) void philox_rounds_avx2(uint64_t seed, PhiloxBatch& out) {
  const __m256i m0 = _mm256_set1_epi32(static_cast<int>(0xD2511F53u));
  const __m256i m1 = _mm256_set1_epi32(static_cast<int>(0xCD9E8D57u));
  for (int g = 0; g < philox_lanes; g += 8) {
    auto* w0 = reinterpret_cast<__m256i*>(out.x0 + g);
    auto* w1 = reinterpret_cast<__m256i*>(out.x1 + g);
    auto* w2 = reinterpret_cast<__m256i*>(out.x2 + g);
    auto* w3 = reinterpret_cast<__m256i*>(out.x3 + g);
    __m256i x0 = _mm256_loadu_si256(w0), x1 = _mm256_loadu_si256(w1);
    __m256i x2 = _mm256_loadu_si256(w2), x3 = _mm256_loadu_si256(w3);
    uint32_t key0 = static_cast<uint32_t>(seed);
    uint32_t key1 = static_cast<uint32_t>(seed >> 32);
    for (int round = 0; round < 10; ++round) {
      __m256i hi0, lo0, hi1, lo1;
      mulhilo8(x0, m0, hi0, lo0);
      mulhilo8(x2, m1, hi1, lo1);
      const __m256i n0 = _mm256_xor_si256(_mm256_xor_si256(hi1, x1), _mm256_set1_epi32(static_cast<int>(key0)));
      const __m256i n2 = _mm256_xor_si256(_mm256_xor_si256(hi0, x3), _mm256_set1_epi32(static_cast<int>(key1)));
      x1 = lo1;
      x3 = lo0;
      x0 = n0;
      x2 = n2;
      key0 += 0x9E3779B9u;
      key1 += 0xBB67AE85u;
    }
    _mm256_storeu_si256(w0, x0);
    _mm256_storeu_si256(w1, x1);
    _mm256_storeu_si256(w2, x2);
    _mm256_storeu_si256(w3, x3);
  }
}

// 32 x 32 -> 64-bit products of 16 lanes: high and low halves per lane.
__attribute__((target("avx512f"))) void mulhilo16(__m512i x, __m512i multiplier, __m512i& hi, __m512i& lo) {
  constexpr __mmask16 odd_lanes = 0xAAAA;
  const __m512i even = _mm512_mul_epu32(x, multiplier);                        // lanes 0, 2, ..., 14
  const __m512i odd = _mm512_mul_epu32(_mm512_srli_epi64(x, 32), multiplier);  // lanes 1, 3, ..., 15
  hi = _mm512_mask_blend_epi32(odd_lanes, _mm512_srli_epi64(even, 32), odd);
  lo = _mm512_mask_blend_epi32(odd_lanes, even, _mm512_slli_epi64(odd, 32));
}

// The rounds of philox_batch, all 16 lanes in one AVX-512 register per word.
__attribute__((target("avx512f"))) void philox_rounds_avx512(uint64_t seed, PhiloxBatch& out) {
  const __m512i m0 = _mm512_set1_epi32(static_cast<int>(0xD2511F53u));
  const __m512i m1 = _mm512_set1_epi32(static_cast<int>(0xCD9E8D57u));
  __m512i x0 = _mm512_load_si512(out.x0), x1 = _mm512_load_si512(out.x1);
  __m512i x2 = _mm512_load_si512(out.x2), x3 = _mm512_load_si512(out.x3);
  uint32_t key0 = static_cast<uint32_t>(seed);
  uint32_t key1 = static_cast<uint32_t>(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    __m512i hi0, lo0, hi1, lo1;
    mulhilo16(x0, m0, hi0, lo0);
    mulhilo16(x2, m1, hi1, lo1);
    // n0 = hi1 ^ x1 ^ key0 and n2 = hi0 ^ x3 ^ key1 as one three-way XOR each.
    const __m512i n0 = _mm512_ternarylogic_epi32(hi1, x1, _mm512_set1_epi32(static_cast<int>(key0)), 0x96);
    const __m512i n2 = _mm512_ternarylogic_epi32(hi0, x3, _mm512_set1_epi32(static_cast<int>(key1)), 0x96);
    x1 = lo1;
    x3 = lo0;
    x0 = n0;
    x2 = n2;
    key0 += 0x9E3779B9u;
    key1 += 0xBB67AE85u;
  }
  _mm512_store_si512(out.x0, x0);
  _mm512_store_si512(out.x1, x1);
  _mm512_store_si512(out.x2, x2);
  _mm512_store_si512(out.x3, x3);
}

}  // namespace

bool philox_path_supported(PhiloxPath path) {
  switch (path) {
    case PhiloxPath::scalar: return true;
    case PhiloxPath::avx2: return __builtin_cpu_supports("avx2");
    case PhiloxPath::avx512: return __builtin_cpu_supports("avx512f");
  }
  return false;
}

PhiloxPath best_philox_path() {
  static const PhiloxPath best = philox_path_supported(PhiloxPath::avx512) ? PhiloxPath::avx512
                                 : philox_path_supported(PhiloxPath::avx2) ? PhiloxPath::avx2
                                                                           : PhiloxPath::scalar;
  return best;
}

void philox_batch_on(PhiloxPath path, uint64_t seed, Stream stream, uint64_t step, uint64_t first_index,
                     PhiloxBatch& out) {
  if (path == PhiloxPath::scalar) {
    philox_batch(seed, stream, step, first_index, out);
    return;
  }
  philox_counters(stream, step, first_index, out);
  if (path == PhiloxPath::avx512)
    philox_rounds_avx512(seed, out);
  else
    philox_rounds_avx2(seed, out);
}

}  // namespace zimt::optim
