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

// philox_words_on for V consecutive vectors of 8 blocks (words[16 v + 2 k]
// and words[16 v + 2 k + 1] of block first_index + 8 v + k), one block per
// 64-bit lane: each 32-bit word of the state sits in the low half of its
// lane (the high half is ignored: vpmuludq reads only the low halves), so
// a round is one multiply, one shift to the high word and one three-way
// XOR per product, with no blends; the V vectors' rounds interleave
// (independent multiplies fill the multiplier's latency).
template <int V>
__attribute__((target("avx512f"), always_inline)) inline void philox_words_avx512(uint64_t seed, Stream stream,
                                                                                  uint64_t step, uint64_t first_index,
                                                                                  uint64_t* words) {
  const __m512i lane = _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0);
  const uint32_t step_word = static_cast<uint32_t>(step) ^ static_cast<uint32_t>(step >> 32) * 0x9E3779B9u;
  __m512i x0[V], x1[V], x2[V], x3[V];
  for (int v = 0; v < V; ++v) {
    // Counter words: the index's low and high halves, the step, the stream.
    const uint64_t first = first_index + uint64_t{8} * static_cast<uint64_t>(v);
    x0[v] = _mm512_add_epi64(_mm512_set1_epi64(static_cast<long long>(first)), lane);
    x1[v] = _mm512_srli_epi64(x0[v], 32);
    x2[v] = _mm512_set1_epi64(step_word);
    x3[v] = _mm512_set1_epi64(static_cast<long long>(stream));
  }
  const __m512i m0 = _mm512_set1_epi64(0xD2511F53), m1 = _mm512_set1_epi64(0xCD9E8D57);
  uint32_t key0 = static_cast<uint32_t>(seed);
  uint32_t key1 = static_cast<uint32_t>(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    const __m512i k0 = _mm512_set1_epi64(key0), k1 = _mm512_set1_epi64(key1);
    for (int v = 0; v < V; ++v) {
      const __m512i p0 = _mm512_mul_epu32(x0[v], m0), p1 = _mm512_mul_epu32(x2[v], m1);
      // x0 = hi(p1) ^ x1 ^ key0, x2 = hi(p0) ^ x3 ^ key1, x1 = lo(p1), x3 = lo(p0).
      x0[v] = _mm512_ternarylogic_epi64(_mm512_srli_epi64(p1, 32), x1[v], k0, 0x96);
      x2[v] = _mm512_ternarylogic_epi64(_mm512_srli_epi64(p0, 32), x3[v], k1, 0x96);
      x1[v] = p1;
      x3[v] = p0;
    }
    key0 += 0x9E3779B9u;
    key1 += 0xBB67AE85u;
  }
  constexpr __mmask16 odd_words = 0xAAAA;
  const __m512i first_half = _mm512_set_epi64(11, 3, 10, 2, 9, 1, 8, 0);
  const __m512i second_half = _mm512_set_epi64(15, 7, 14, 6, 13, 5, 12, 4);
  for (int v = 0; v < V; ++v) {
    // lo64 = x0 | x1 << 32 and hi64 = x2 | x3 << 32 of lanes 0..7, then
    // interleaved into counter order.
    const __m512i lo = _mm512_mask_blend_epi32(odd_words, x0[v], _mm512_slli_epi64(x1[v], 32));
    const __m512i hi = _mm512_mask_blend_epi32(odd_words, x2[v], _mm512_slli_epi64(x3[v], 32));
    uint64_t* out = words + size_t{16} * static_cast<size_t>(v);
    _mm512_storeu_si512(out, _mm512_permutex2var_epi64(lo, first_half, hi));
    _mm512_storeu_si512(out + 8, _mm512_permutex2var_epi64(lo, second_half, hi));
  }
}

__attribute__((target("avx512f"))) void philox_batch_avx512(uint64_t seed, Stream stream, uint64_t step,
                                                            uint64_t first_index, PhiloxWords& words) {
  philox_words_avx512<philox_lanes / 8>(seed, stream, step, first_index, words);
}

__attribute__((target("avx512f"))) void philox_run_avx512(uint64_t seed, Stream stream, uint64_t step,
                                                          uint64_t first_index, PhiloxRunWords& words) {
  // Two passes of four vectors: four chains hide the multiplies' latency,
  // eight would not fit the registers.
  philox_words_avx512<4>(seed, stream, step, first_index, words);
  philox_words_avx512<4>(seed, stream, step, first_index + 32, words + 64);
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
