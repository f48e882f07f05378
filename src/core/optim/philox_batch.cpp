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

// philox_words_on for G consecutive batches of 16 blocks (words[32 g + 2 k]
// and words[32 g + 2 k + 1] of block first_index + 16 g + k), all 16 lanes of
// a batch in one AVX-512 register per 32-bit word of the block: counters
// built in registers, the G batches' rounds interleaved (independent
// multiplies fill the multiplier's latency), then a transpose into counter
// order.
template <int G>
__attribute__((target("avx512f"), always_inline)) inline void philox_words_avx512(uint64_t seed, Stream stream,
                                                                                  uint64_t step, uint64_t first_index,
                                                                                  uint64_t* words) {
  const __m512i lane = _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0);
  const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  const __m512i odd = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
  const uint32_t step_word = static_cast<uint32_t>(step) ^ static_cast<uint32_t>(step >> 32) * 0x9E3779B9u;
  __m512i x0[G], x1[G], x2[G], x3[G];
  for (int g = 0; g < G; ++g) {
    // Counter words x0, x1 (index low and high halves) of lanes 0..15.
    const uint64_t first = first_index + static_cast<uint64_t>(g) * philox_lanes;
    const __m512i index_a = _mm512_add_epi64(_mm512_set1_epi64(static_cast<long long>(first)), lane);
    const __m512i index_b = _mm512_add_epi64(_mm512_set1_epi64(static_cast<long long>(first) + 8), lane);
    x0[g] = _mm512_permutex2var_epi32(index_a, even, index_b);
    x1[g] = _mm512_permutex2var_epi32(index_a, odd, index_b);
    x2[g] = _mm512_set1_epi32(static_cast<int>(step_word));
    x3[g] = _mm512_set1_epi32(static_cast<int>(stream));
  }
  const __m512i m0 = _mm512_set1_epi32(static_cast<int>(0xD2511F53u));
  const __m512i m1 = _mm512_set1_epi32(static_cast<int>(0xCD9E8D57u));
  uint32_t key0 = static_cast<uint32_t>(seed);
  uint32_t key1 = static_cast<uint32_t>(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    const __m512i k0 = _mm512_set1_epi32(static_cast<int>(key0)), k1 = _mm512_set1_epi32(static_cast<int>(key1));
    for (int g = 0; g < G; ++g) {
      __m512i hi0, lo0, hi1, lo1;
      mulhilo16(x0[g], m0, hi0, lo0);
      mulhilo16(x2[g], m1, hi1, lo1);
      // n0 = hi1 ^ x1 ^ key0 and n2 = hi0 ^ x3 ^ key1 as one three-way XOR each.
      x0[g] = _mm512_ternarylogic_epi32(hi1, x1[g], k0, 0x96);
      x2[g] = _mm512_ternarylogic_epi32(hi0, x3[g], k1, 0x96);
      x1[g] = lo1;
      x3[g] = lo0;
    }
    key0 += 0x9E3779B9u;
    key1 += 0xBB67AE85u;
  }
  for (int g = 0; g < G; ++g) {
    // Transpose: lane k's (x0, x1, x2, x3) become words 2k (x0 | x1 << 32) and 2k + 1.
    const __m512i a = _mm512_unpacklo_epi32(x0[g], x1[g]), b = _mm512_unpackhi_epi32(x0[g], x1[g]);
    const __m512i c = _mm512_unpacklo_epi32(x2[g], x3[g]), d = _mm512_unpackhi_epi32(x2[g], x3[g]);
    // 128-bit chunk j of e, f, g, h: lanes 4j, 4j + 1, 4j + 2, 4j + 3.
    const __m512i e = _mm512_unpacklo_epi64(a, c), f = _mm512_unpackhi_epi64(a, c);
    const __m512i gg = _mm512_unpacklo_epi64(b, d), h = _mm512_unpackhi_epi64(b, d);
    const __m512i p = _mm512_shuffle_i64x2(e, f, 0x44),
                  q = _mm512_shuffle_i64x2(gg, h, 0x44);  // lanes 0 4 1 5, 2 6 3 7
    const __m512i r = _mm512_shuffle_i64x2(e, f, 0xEE),
                  s = _mm512_shuffle_i64x2(gg, h, 0xEE);  // lanes 8 12 9 13, 10 14 11 15
    uint64_t* out = words + size_t{2} * philox_lanes * static_cast<size_t>(g);
    _mm512_storeu_si512(out + 0, _mm512_shuffle_i64x2(p, q, 0x88));
    _mm512_storeu_si512(out + 8, _mm512_shuffle_i64x2(p, q, 0xDD));
    _mm512_storeu_si512(out + 16, _mm512_shuffle_i64x2(r, s, 0x88));
    _mm512_storeu_si512(out + 24, _mm512_shuffle_i64x2(r, s, 0xDD));
  }
}

__attribute__((target("avx512f"))) void philox_batch_avx512(uint64_t seed, Stream stream, uint64_t step,
                                                            uint64_t first_index, PhiloxWords& words) {
  philox_words_avx512<1>(seed, stream, step, first_index, words);
}

__attribute__((target("avx512f"))) void philox_run_avx512(uint64_t seed, Stream stream, uint64_t step,
                                                          uint64_t first_index, PhiloxRunWords& words) {
  philox_words_avx512<philox_run_blocks / philox_lanes>(seed, stream, step, first_index, words);
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

void philox_words_on(PhiloxPath path, uint64_t seed, Stream stream, uint64_t step, uint64_t first_index,
                     PhiloxWords& words) {
  if (path == PhiloxPath::avx512) {
    philox_batch_avx512(seed, stream, step, first_index, words);
    return;
  }
  PhiloxBatch batch;
  if (path == PhiloxPath::avx2) {
    philox_counters(stream, step, first_index, batch);
    philox_rounds_avx2(seed, batch);
  } else {
    philox_batch(seed, stream, step, first_index, batch);
  }
  for (int k = 0; k < philox_lanes; ++k) {
    const auto at = 2 * static_cast<size_t>(k);
    words[at] = batch.lo64(k);
    words[at + 1] = batch.hi64(k);
  }
}

void philox_run_on(PhiloxPath path, uint64_t seed, Stream stream, uint64_t step, uint64_t first_index,
                   PhiloxRunWords& words) {
  if (path == PhiloxPath::avx512) {
    philox_run_avx512(seed, stream, step, first_index, words);
    return;
  }
  for (int g = 0; g < philox_run_blocks / philox_lanes; ++g) {
    auto& batch = *reinterpret_cast<PhiloxWords*>(words + size_t{2} * philox_lanes * static_cast<size_t>(g));
    philox_words_on(path, seed, stream, step, first_index + static_cast<uint64_t>(g) * philox_lanes, batch);
  }
}

}  // namespace zimt::optim
