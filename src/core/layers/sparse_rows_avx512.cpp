// The AVX-512 VNNI sparse row products (sparse_rows.hpp). Per row i of a:
// its nonzero entries listed (positions, errors), an odd count padded with
// a zero error; then, kChunk zmm of K at a time, each
// pair (p1, e1), (p2, e2) interleaves rows[p1] and rows[p2] (unpacklo and
// unpackhi: int32 lane i of 128-bit lane L holds the values of column
// 8L + i, resp. 8L + 4 + i, of the zmm's 32) and adds (lo1, lo2) and
// (hi1, hi2) products into two accumulators each; a flush combines
// 256·hi + lo in int64, shifts it and adds it onto s with the columns back
// in order.
// GCC 12 reports its own _mm512_undefined_* placeholders (self-initialised
// on purpose) inside the convert intrinsics as (maybe-)uninitialized.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <algorithm>

#include "zimt/layers/sparse_rows.hpp"

#define ZIMT_AVX512VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))

namespace zimt::sparse_rows {

namespace {

constexpr int64_t kLanes = 32;      // int16 values per zmm
constexpr int64_t kChunk = 3;       // zmm of a patch row per pass (12 accumulators; K = 288: 3 passes)
constexpr int64_t kMaxPairs = 127;  // 127 pairs of 2·2^23 per lane stay below 2^31

bool available() {
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
}

ZIMT_AVX512VNNI inline __mmask32 column_lanes(int64_t left) {
  return left >= kLanes ? ~__mmask32{0} : (__mmask32{1} << left) - 1;
}

// 2^shift · (256·hi + lo) of int32 lanes [8·half, 8·half + 8) in int64
// (modulo 2^64).
ZIMT_AVX512VNNI inline __m512i combined(__m512i hi, __m512i lo, int half, __m128i shift) {
  const __m256i h = half != 0 ? _mm512_extracti64x4_epi64(hi, 1) : _mm512_castsi512_si256(hi);
  const __m256i l = half != 0 ? _mm512_extracti64x4_epi64(lo, 1) : _mm512_castsi512_si256(lo);
  return _mm512_sll_epi64(_mm512_add_epi64(_mm512_slli_epi64(_mm512_cvtepi32_epi64(h), 8), _mm512_cvtepi32_epi64(l)),
                          shift);
}

// s[0, left) += 2^shift · the accumulators of one zmm of columns: a
// (unpacklo) holds columns {0..3, 8..11, 16..19, 24..27}, b (unpackhi) the
// others.
ZIMT_AVX512VNNI inline void flush(int64_t* s, int64_t left, __m512i a_hi, __m512i a_lo, __m512i b_hi, __m512i b_lo,
                                  __m128i shift) {
  const __m512i a0 = combined(a_hi, a_lo, 0, shift), b0 = combined(b_hi, b_lo, 0, shift);  // 0..3, 8..11 | 4..7, 12..15
  const __m512i a1 = combined(a_hi, a_lo, 1, shift),
                b1 = combined(b_hi, b_lo, 1, shift);  // 16..19, 24..27 | 20..23, 28..31
  const __m512i v[4] = {_mm512_shuffle_i64x2(a0, b0, 0x44), _mm512_shuffle_i64x2(a0, b0, 0xEE),
                        _mm512_shuffle_i64x2(a1, b1, 0x44), _mm512_shuffle_i64x2(a1, b1, 0xEE)};
  for (int64_t t = 0; t < 4 && 8 * t < left; ++t) {
    const int64_t n = std::min<int64_t>(8, left - 8 * t);
    const __mmask8 k = static_cast<__mmask8>((1u << n) - 1);
    int64_t* out = s + 8 * t;
    _mm512_mask_storeu_epi64(out, k, _mm512_add_epi64(_mm512_maskz_loadu_epi64(k, out), v[t]));
  }
}

// Row i's nonzero entries, 16 positions at a time compressed in
// registers (a compressing store to memory is slow on some CPUs) and
// stored whole: pos[j] their positions, err[j] their errors (err = pos +
// list_half(P)); returns their count, made even with a zero error.
inline int64_t list_half(int64_t P) { return P + 16 + 1; }
ZIMT_AVX512VNNI int64_t nonzero_entries(const int16_t* a, int64_t P, int32_t* list) {
  int32_t *pos = list, *err = list + list_half(P);
  const __m512i iota = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
  int64_t count = 0;
  for (int64_t p0 = 0; p0 < P; p0 += 16) {
    const auto lanes = static_cast<__mmask16>(P - p0 >= 16 ? 0xFFFF : (1u << (P - p0)) - 1);
    const __m512i e = _mm512_cvtepi16_epi32(_mm256_maskz_loadu_epi16(lanes, a + p0));
    const __mmask16 k = _mm512_test_epi32_mask(e, e);
    _mm512_storeu_si512(pos + count, _mm512_maskz_compress_epi32(
                                         k, _mm512_add_epi32(_mm512_set1_epi32(static_cast<int32_t>(p0)), iota)));
    _mm512_storeu_si512(err + count, _mm512_maskz_compress_epi32(k, e));
    count += __builtin_popcount(k);
  }
  if (count % 2 != 0) {
    pos[count] = pos[count - 1];
    err[count] = 0;
    ++count;
  }
  return count;
}

// si[z0·32, K) += 2^shift · the pairs' products for Z zmm of columns from z0
// (Z a constant, so that the accumulators stay in registers).
template <int64_t Z>
ZIMT_AVX512VNNI void pairs_pass(int64_t* si, const int32_t* pos, const int32_t* err, int64_t count, const int16_t* rows,
                                int64_t K, int64_t z0, __m128i shift) {
  __mmask32 lanes[Z];
  for (int64_t z = 0; z < Z; ++z) lanes[z] = column_lanes(K - (z0 + z) * kLanes);
  for (int64_t j0 = 0; j0 < count; j0 += 2 * kMaxPairs) {
    __m512i lo[2 * Z], hi[2 * Z];
    for (int64_t t = 0; t < 2 * Z; ++t) lo[t] = hi[t] = _mm512_setzero_si512();
    for (int64_t j = j0; j < std::min(count, j0 + 2 * kMaxPairs); j += 2) {
      const int32_t e1 = err[j], e2 = err[j + 1];
      const __m512i b_lo = _mm512_set1_epi32((e1 & 0xFF) | (e2 & 0xFF) << 16);
      const __m512i b_hi =
          _mm512_set1_epi32(((e1 >> 8) & 0xFFFF) | static_cast<int32_t>(static_cast<uint32_t>(e2 >> 8) << 16));
      const int16_t* r1 = rows + pos[j] * K + z0 * kLanes;
      const int16_t* r2 = rows + pos[j + 1] * K + z0 * kLanes;
      for (int64_t z = 0; z < Z; ++z) {
        const __m512i x1 = _mm512_maskz_loadu_epi16(lanes[z], r1 + z * kLanes);
        const __m512i x2 = _mm512_maskz_loadu_epi16(lanes[z], r2 + z * kLanes);
        const __m512i u = _mm512_unpacklo_epi16(x1, x2), w = _mm512_unpackhi_epi16(x1, x2);
        lo[2 * z] = _mm512_dpwssd_epi32(lo[2 * z], b_lo, u);
        lo[2 * z + 1] = _mm512_dpwssd_epi32(lo[2 * z + 1], b_lo, w);
        hi[2 * z] = _mm512_dpwssd_epi32(hi[2 * z], b_hi, u);
        hi[2 * z + 1] = _mm512_dpwssd_epi32(hi[2 * z + 1], b_hi, w);
      }
    }
    for (int64_t z = 0; z < Z; ++z) {
      const int64_t column = (z0 + z) * kLanes;
      flush(si + column, K - column, hi[2 * z], lo[2 * z], hi[2 * z + 1], lo[2 * z + 1], shift);
    }
  }
}

ZIMT_AVX512VNNI void add_sums(int64_t* s, const int16_t* a, int64_t m, int64_t P, const int16_t* rows, int64_t K,
                              int32_t* list, int shift) {
  const int64_t zk = (K + kLanes - 1) / kLanes;
  const __m128i by = _mm_cvtsi32_si128(shift);
  for (int64_t i = 0; i < m; ++i) {
    int64_t* si = s + i * K;
    const int64_t count = nonzero_entries(a + i * P, P, list);
    if (count == 0) continue;
    for (int64_t z0 = 0; z0 < zk; z0 += kChunk) {
      switch (std::min(kChunk, zk - z0)) {
        case 1: pairs_pass<1>(si, list, list + list_half(P), count, rows, K, z0, by); break;
        case 2: pairs_pass<2>(si, list, list + list_half(P), count, rows, K, z0, by); break;
        default: pairs_pass<kChunk>(si, list, list + list_half(P), count, rows, K, z0, by); break;
      }
    }
  }
}

}  // namespace

namespace detail {
constinit const Kernels avx512_kernels{"avx512", &available, &add_sums};
}  // namespace detail

}  // namespace zimt::sparse_rows
