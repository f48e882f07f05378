// AVX-512 VNNI implementation of gemm_nt (needs AVX-512 F, BW, VL, VNNI).
//
// C (m,n) = A (m,k) · B (n,k)ᵀ, operands sign-extended to int16 while packing:
//   A16   (round_up(m, kMR), kp) int16, kp = k rounded up to even, zero padded
//         (rows and the odd column): a 32-bit broadcast gives one k-pair.
//   panel (kp/2, 16·nv) int32 words for up to 64 columns of B, word (p, j) =
//         (B[j][2p], B[j][2p+1]): one zmm holds a k-pair of 16 columns.
// Micro-kernel: kMR rows x 16·nv columns of int32 accumulators (6 x 64 = 24
// zmm); per k-pair nv panel loads, kMR broadcasts and kMR·nv vpdpwssd (32 MACs
// each), flushed (sign-extended) into the int64 C every flush_steps() k-pairs
// (bound and byte split of B in gemm_common.hpp). For m < kSmallM packing B
// would cost as much as the product, so those rows are dot products of A with
// four B rows at a time.
// int8 x int8 runs its own packing and micro-kernel on vpdpbusd (four
// products per lane, below and gemm_u8s8.hpp).
// GCC 12 reports its own _mm512_undefined_* placeholders (self-initialised
// on purpose) inside the cast/extract/convert intrinsics as (maybe-)uninitialized.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "gemm_common.hpp"
#include "gemm_u8s8.hpp"

#define ZIMT_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))

namespace zimt::kernels::detail {

namespace {

constexpr int kMR = 6;                                // rows of A per micro-tile
constexpr int kMaxNV = 4;                             // zmm per micro-tile row: up to 64 columns of B
constexpr int64_t kPanelCols = int64_t{16} * kMaxNV;  // columns of B per panel
constexpr int64_t kSmallM = 4;                        // fewer rows than this: dot products, no packing

bool available() {
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
}

// 32 elements from p as int16 (int8 sign-extended); the first `valid` (<= 32)
// are loaded, the rest are 0.
ZIMT_AVX512 inline __m512i load32(const int8_t* p, int64_t valid) {
  const __mmask32 mask = valid >= 32 ? ~__mmask32{0} : (__mmask32{1} << valid) - 1;
  return _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(mask, p));
}
ZIMT_AVX512 inline __m512i load32(const int16_t* p, int64_t valid) {
  const __mmask32 mask = valid >= 32 ? ~__mmask32{0} : (__mmask32{1} << valid) - 1;
  return _mm512_maskz_loadu_epi16(mask, p);
}

// Running max |x| over int16 lanes, unsigned (|-32768| = 32768 fits).
ZIMT_AVX512 inline __m512i max_abs(__m512i running, __m512i x) {
  return _mm512_max_epu16(running, _mm512_abs_epi16(x));
}
ZIMT_AVX512 inline uint32_t reduce_max_abs(__m512i running) {
  const __m512i lo = _mm512_and_si512(running, _mm512_set1_epi32(0xFFFF));
  return _mm512_reduce_max_epu32(_mm512_max_epu32(lo, _mm512_srli_epi32(running, 16)));
}

// Transposes 16 rows of 16 int32 words in place: r[i] word j -> r[j] word i.
ZIMT_AVX512 inline void transpose16(__m512i r[16]) {
  __m512i t[16], u[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);      // per 128-bit lane L: words 4L, 4L+1 of rows i, i+1
    t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);  // words 4L+2, 4L+3
  }
  for (int g = 0; g < 16; g += 4) {  // u[g + c], lane L: word 4L + c of rows g..g+3
    u[g + 0] = _mm512_unpacklo_epi64(t[g], t[g + 2]);
    u[g + 1] = _mm512_unpackhi_epi64(t[g], t[g + 2]);
    u[g + 2] = _mm512_unpacklo_epi64(t[g + 1], t[g + 3]);
    u[g + 3] = _mm512_unpackhi_epi64(t[g + 1], t[g + 3]);
  }
  for (int c = 0; c < 4; ++c) {
    const __m512i v02 = _mm512_shuffle_i32x4(u[c], u[4 + c], 0x88);  // lanes 0,2 of rows 0-3, 4-7
    const __m512i v13 = _mm512_shuffle_i32x4(u[c], u[4 + c], 0xDD);  // lanes 1,3
    const __m512i w02 = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0x88);
    const __m512i w13 = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0xDD);
    r[c] = _mm512_shuffle_i32x4(v02, w02, 0x88);       // word c of all rows
    r[c + 8] = _mm512_shuffle_i32x4(v02, w02, 0xDD);   // word c + 8
    r[c + 4] = _mm512_shuffle_i32x4(v13, w13, 0x88);   // word c + 4
    r[c + 12] = _mm512_shuffle_i32x4(v13, w13, 0xDD);  // word c + 12
  }
}

// A (m,k) -> A16 (round_up(m, kMR), kp) int16, zero padded; returns max |a|
// (the type's bound for int8, which needs no scan).
template <class T>
ZIMT_AVX512 uint32_t pack_a(int16_t* a16, int64_t kp, const T* a, int64_t lda, int64_t m, int64_t k) {
  __m512i amax = _mm512_setzero_si512();
  for (int64_t i = 0; i < m; ++i)
    for (int64_t t = 0; t < kp; t += 32) {
      const __m512i x = load32(a + i * lda + t, k - t);
      if constexpr (sizeof(T) == 2) amax = max_abs(amax, x);
      const int64_t w = std::min<int64_t>(32, kp - t);
      _mm512_mask_storeu_epi16(a16 + i * kp + t, (__mmask32{1} << (w - 1) << 1) - 1, x);
    }
  std::memset(a16 + m * kp, 0, static_cast<size_t>((round_up(m, kMR) - m) * kp) * sizeof(int16_t));
  if constexpr (sizeof(T) == 2) return reduce_max_abs(amax);
  return type_max_abs<T>;
}

// Width of the panel starting at column j0 in zmm (16 columns each).
inline int panel_nv(int64_t j0, int64_t n) { return static_cast<int>(std::min<int64_t>(kMaxNV, (n - j0 + 15) / 16)); }

// B (n,k) -> panels of 16·nv columns (see the top): panel at column j0 starts
// at word j0·kp/2. 16 rows of B at a time, 16 k-pairs per 16x16 transpose.
// Returns max |b| (the type's bound for int8).
template <class T>
ZIMT_AVX512 uint32_t pack_b(int32_t* packed, const T* b, int64_t ldb, int64_t n, int64_t k) {
  const int64_t pairs = (k + 1) / 2;
  __m512i bmax = _mm512_setzero_si512();
  for (int64_t j16 = 0; j16 < n; j16 += 16) {
    const int64_t j0 = j16 / kPanelCols * kPanelCols;  // first column of this panel
    const int nv = panel_nv(j0, n);
    const int64_t jv = (j16 - j0) / 16;  // zmm within the panel row
    int32_t* panel = packed + j0 * pairs;
    for (int64_t p0 = 0; p0 < pairs; p0 += 16) {
      __m512i r[16];
      for (int64_t i = 0; i < 16; ++i) {
        r[i] = j16 + i < n ? load32(b + (j16 + i) * ldb + 2 * p0, k - 2 * p0) : _mm512_setzero_si512();
        if constexpr (sizeof(T) == 2) bmax = max_abs(bmax, r[i]);
      }
      transpose16(r);
      for (int64_t p = p0; p < std::min(pairs, p0 + 16); ++p) _mm512_store_si512(panel + (p * nv + jv) * 16, r[p - p0]);
    }
  }
  if constexpr (sizeof(T) == 2) return reduce_max_abs(bmax);
  return type_max_abs<T>;
}

// B given as rows (gemm_rows: B[j][t] = b[rows[t] + j]) -> pack_b's panels.
// Per k-pair and 16 columns: 16 values of each of the two rows (masked past
// n), interleaved into 16 words by one vpermw. Returns max |b|.
ZIMT_AVX512 uint32_t pack_b_rows(int32_t* packed, const int16_t* b, const int64_t* rows, int64_t n, int64_t k) {
  const int64_t pairs = (k + 1) / 2;
  // Word i of the result = (value i of the first row, value i of the second).
  alignas(64) static constexpr int16_t kInterleave[32] = {0, 16, 1, 17, 2,  18, 3,  19, 4,  20, 5,  21, 6,  22, 7,  23,
                                                          8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
  const __m512i interleave = _mm512_load_si512(kInterleave);
  __m512i bmax = _mm512_setzero_si512();
  for (int64_t j16 = 0; j16 < n; j16 += 16) {
    const int64_t j0 = j16 / kPanelCols * kPanelCols;  // first column of this panel
    const int nv = panel_nv(j0, n);
    const int64_t jv = (j16 - j0) / 16;  // zmm within the panel row
    int32_t* panel = packed + j0 * pairs;
    const __mmask16 valid = n - j16 >= 16 ? __mmask16{0xFFFF} : static_cast<__mmask16>((1u << (n - j16)) - 1);
    for (int64_t p = 0; p < pairs; ++p) {
      const __m256i first = _mm256_maskz_loadu_epi16(valid, b + rows[2 * p] + j16);
      const __m256i second =
          2 * p + 1 < k ? _mm256_maskz_loadu_epi16(valid, b + rows[2 * p + 1] + j16) : _mm256_setzero_si256();
      const __m512i both = _mm512_inserti64x4(_mm512_castsi256_si512(first), second, 1);
      bmax = max_abs(bmax, both);
      _mm512_store_si512(panel + (p * nv + jv) * 16, _mm512_permutexvar_epi16(interleave, both));
    }
  }
  return reduce_max_abs(bmax);
}

// Stores (first = true) or adds the int32 lanes acc, sign-extended and
// shifted left by `shift` (0, or 8 for the hi byte of a split B), into
// c[0 .. cols), cols <= 16.
ZIMT_AVX512 inline void flush16(int64_t* c, __m512i acc, int64_t cols, bool first, int shift) {
  const __mmask8 lo_mask = cols >= 8 ? 0xFF : static_cast<__mmask8>((1u << cols) - 1);
  const __mmask8 hi_mask = cols >= 16 ? 0xFF : cols <= 8 ? 0 : static_cast<__mmask8>((1u << (cols - 8)) - 1);
  __m512i lo = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(acc));
  __m512i hi = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(acc, 1));
  if (shift != 0) {
    lo = _mm512_sll_epi64(lo, _mm_cvtsi32_si128(shift));
    hi = _mm512_sll_epi64(hi, _mm_cvtsi32_si128(shift));
  }
  if (!first) {
    lo = _mm512_add_epi64(lo, _mm512_maskz_loadu_epi64(lo_mask, c));
    hi = _mm512_add_epi64(hi, _mm512_maskz_loadu_epi64(hi_mask, c + 8));
  }
  _mm512_mask_storeu_epi64(c, lo_mask, lo);
  _mm512_mask_storeu_epi64(c + 8, hi_mask, hi);
}

// Stores the int32 lanes acc into c[0 .. cols), cols <= 16 (an int32 C
// takes all of k in one run: never split, never added to). Not inlined:
// inlined, GCC 12 keeps the micro-tile's accumulators in memory (half the
// speed in bench_gemm); the same holds for the other int32 flushes.
ZIMT_AVX512 __attribute__((noinline)) void flush16(int32_t* c, __m512i acc, int64_t cols, bool, int) {
  _mm512_mask_storeu_epi32(c, cols >= 16 ? __mmask16{0xFFFF} : static_cast<__mmask16>((1u << cols) - 1), acc);
}

// Micro-tile: c (rows, cols) (+)= 2^shift · A16 rows (kMR, 2·steps) · panel (steps, 16·NV)
// a: first row at the first k-pair, row stride kp; b: panel at the first k-pair.
template <int NV, class TC>
ZIMT_AVX512 void micro_tile(TC* c, int64_t ldc, const int16_t* a, int64_t kp, const int32_t* b, int64_t steps,
                            int64_t rows, int64_t cols, bool first, int shift) {
  // Every loop over r and v is unrolled so that acc stays in registers.
  __m512i acc[kMR][NV];
#pragma GCC unroll 8
  for (int r = 0; r < kMR; ++r)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_si512();
  for (int64_t p = 0; p < steps; ++p) {
    __m512i bv[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) bv[v] = _mm512_load_si512(b + (p * NV + v) * 16);
#pragma GCC unroll 8
    for (int r = 0; r < kMR; ++r) {
      int32_t pair;
      std::memcpy(&pair, a + r * kp + 2 * p, sizeof pair);
      const __m512i av = _mm512_set1_epi32(pair);
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_dpwssd_epi32(acc[r][v], av, bv[v]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < kMR; ++r)
    if (r < rows)
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v)
        if (int64_t{16} * v < cols)
          flush16(c + r * ldc + int64_t{16} * v, acc[r][v], cols - int64_t{16} * v, first, shift);
  // Clean upper vector state on return: the last int32 flush (not inlined)
  // would otherwise be a tail call past the compiler's vzeroupper, and the
  // caller's SSE code then runs several times slower (requantize after an
  // int32-C GEMM: 3.6x, measured).
  _mm256_zeroupper();
}

template <class TC>
using MicroTile = void (*)(TC*, int64_t, const int16_t*, int64_t, const int32_t*, int64_t, int64_t, int64_t, bool, int);
template <class TC>
constexpr MicroTile<TC> kMicroTile[kMaxNV + 1] = {nullptr, &micro_tile<1, TC>, &micro_tile<2, TC>, &micro_tile<3, TC>,
                                                  &micro_tile<4, TC>};

// sum[q] += sum_t a[t]·bq[q][t] over 32-element blocks [s0, s1) of k, in
// int32 lanes (the caller keeps s1 - s0 within the flush bound). Split: B in
// bytes, sum[q] += sum_t a[t]·lo + 256·sum_t a[t]·hi (gemm_common.hpp).
template <bool Split, class TA, class TB>
ZIMT_AVX512 void dots4(int64_t sum[4], const TA* a, const TB* const bq[4], int64_t k, int64_t s0, int64_t s1) {
  __m512i acc[4], acc_hi[4];
  for (int q = 0; q < 4; ++q) acc[q] = acc_hi[q] = _mm512_setzero_si512();
  for (int64_t s = s0; s < s1; ++s) {
    const int64_t t = 32 * s;
    const __m512i av = load32(a + t, k - t);
    for (int q = 0; q < 4; ++q) {
      const __m512i bv = load32(bq[q] + t, k - t);
      if constexpr (Split) {
        acc[q] = _mm512_dpwssd_epi32(acc[q], av, _mm512_and_si512(bv, _mm512_set1_epi16(0xFF)));
        acc_hi[q] = _mm512_dpwssd_epi32(acc_hi[q], av, _mm512_srai_epi16(bv, 8));
      } else {
        acc[q] = _mm512_dpwssd_epi32(acc[q], av, bv);
      }
    }
  }
  auto widen_sum = [](__m512i v) ZIMT_AVX512 {
    return _mm512_reduce_add_epi64(_mm512_add_epi64(_mm512_cvtepi32_epi64(_mm512_castsi512_si256(v)),
                                                    _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(v, 1))));
  };
  for (int q = 0; q < 4; ++q) sum[q] += widen_sum(acc[q]) + (Split ? widen_sum(acc_hi[q]) * 256 : 0);
}

// Rows of A against four rows of B at a time, 32 k per vpdpwssd, with a
// horizontal sum at the end (m < kSmallM: no packing). An int32 C receives
// the int64 sums modulo 2^32.
template <class TA, class TB, class TC>
ZIMT_AVX512 void gemm_dots(TC* c, int64_t ldc, const TA* a, int64_t lda, const TB* b, int64_t ldb, int64_t m, int64_t n,
                           int64_t k, int shift, bool accumulate) {
  const int64_t blocks = (k + 31) / 32;  // steps of 32 k
  for (int64_t i = 0; i < m; ++i) {
    const TA* ai = a + i * lda;
    uint32_t amax = type_max_abs<TA>;
    if constexpr (sizeof(TA) == 2) {
      __m512i run = _mm512_setzero_si512();
      for (int64_t t = 0; t < k; t += 32) run = max_abs(run, load32(ai + t, k - t));
      amax = reduce_max_abs(run);
    }
    for (int64_t j0 = 0; j0 < n; j0 += 4) {
      const TB* bq[4];
      for (int64_t q = 0; q < 4; ++q) bq[q] = b + std::min(j0 + q, n - 1) * ldb;  // repeats the last row
      int64_t flush = flush_steps(amax, type_max_abs<TB>);
      if (flush < blocks) {  // int16 B only: look at the actual values
        __m512i run = _mm512_setzero_si512();
        for (int64_t q = 0; q < 4; ++q)
          for (int64_t t = 0; t < k; t += 32) run = max_abs(run, load32(bq[q] + t, k - t));
        flush = flush_steps(amax, reduce_max_abs(run));
      }
      const bool split = flush < kMinFlushSteps;
      if (split) flush = flush_steps(amax, kSplitMaxAbs);
      int64_t sum[4] = {0, 0, 0, 0};
      for (int64_t s0 = 0; s0 < blocks; s0 += flush) {
        const int64_t s1 = std::min(blocks, s0 + flush);
        if (split)
          dots4<true>(sum, ai, bq, k, s0, s1);
        else
          dots4<false>(sum, ai, bq, k, s0, s1);
      }
      for (int64_t q = 0; q < std::min<int64_t>(4, n - j0); ++q)
        store_sum(c[i * ldc + j0 + q], sum[q], shift, accumulate);
    }
  }
}

// Packed int16 words (pairs of B values) -> their low bytes (unsigned, in
// place) and high bytes (signed, into hi): b = 256·hi + lo.
ZIMT_AVX512 void split_bytes(int32_t* lo, int32_t* hi, int64_t words) {
  for (int64_t w = 0; w < words; w += 16) {
    const __m512i x = _mm512_load_si512(lo + w);
    _mm512_store_si512(hi + w, _mm512_srai_epi16(x, 8));
    _mm512_store_si512(lo + w, _mm512_and_si512(x, _mm512_set1_epi16(0xFF)));
  }
}

// int8 x int8 on vpdpbusd (gemm_u8s8.hpp: a + 128 unsigned, B signed, the
// correction per column):
//   A8    (round_up(m, kMR), kq) uint8, kq = k rounded up to a multiple of 4:
//         a 32-bit broadcast gives one k-quad.
//   panel (kq/4, 16·nv) int32 words for up to 64 columns of B, word (q, j) =
//         bytes B[j][4q .. 4q+3]: one zmm holds a k-quad of 16 columns.

// Mask of the first `valid` (may exceed 64) of 64 bytes.
inline __mmask64 byte_mask(int64_t valid) { return valid >= 64 ? ~__mmask64{0} : (__mmask64{1} << valid) - 1; }

// A (m,k) int8 -> A8 (round_up(m, kMR), kq) uint8 = a + 128 (a ^ 0x80), zero padded.
ZIMT_AVX512 void pack_a_u8(uint8_t* a8, int64_t kq, const int8_t* a, int64_t lda, int64_t m, int64_t k) {
  const __m512i offset = _mm512_set1_epi8(static_cast<char>(0x80));
  for (int64_t i = 0; i < m; ++i)
    for (int64_t t = 0; t < kq; t += 64) {
      const __mmask64 valid = byte_mask(k - t);
      const __m512i x =
          _mm512_maskz_mov_epi8(valid, _mm512_xor_si512(_mm512_maskz_loadu_epi8(valid, a + i * lda + t), offset));
      _mm512_mask_storeu_epi8(a8 + i * kq + t, byte_mask(kq - t), x);
    }
  std::memset(a8 + m * kq, 0, static_cast<size_t>((round_up(m, kMR) - m) * kq));
}

// B (n,k) int8 -> panels of 16·nv columns (above; the panel at column j0
// starts at word j0·kq/4) and corr[j] = 128·Σ_t b[j,t] (0 for the padding
// columns up to round_up(n, 16)). 16 rows of B at a time, 16 k-quads per
// 16x16 transpose; the row sums come from the transposed words (lane i = row
// i), in int32 per block of 64 k (|sum| <= 8192) and int64 across blocks.
ZIMT_AVX512 void pack_b_s8(int32_t* packed, int64_t* corr, const int8_t* b, int64_t ldb, int64_t n, int64_t k) {
  const int64_t quads = (k + 3) / 4;
  const __m512i ones = _mm512_set1_epi8(1);
  for (int64_t j16 = 0; j16 < n; j16 += 16) {
    const int64_t j0 = j16 / kPanelCols * kPanelCols;  // first column of this panel
    const int nv = panel_nv(j0, n);
    const int64_t jv = (j16 - j0) / 16;  // zmm within the panel row
    int32_t* panel = packed + j0 * quads;
    __m512i sum_lo = _mm512_setzero_si512(), sum_hi = _mm512_setzero_si512();  // int64 row sums, rows 0-7, 8-15
    for (int64_t q0 = 0; q0 < quads; q0 += 16) {
      __m512i r[16];
      for (int64_t i = 0; i < 16; ++i)
        r[i] = j16 + i < n ? _mm512_maskz_loadu_epi8(byte_mask(k - 4 * q0), b + (j16 + i) * ldb + 4 * q0)
                           : _mm512_setzero_si512();
      transpose16(r);
      __m512i block = _mm512_setzero_si512();
      for (int64_t q = q0; q < std::min(quads, q0 + 16); ++q) {
        _mm512_store_si512(panel + (q * nv + jv) * 16, r[q - q0]);
        block = _mm512_dpbusd_epi32(block, ones, r[q - q0]);
      }
      sum_lo = _mm512_add_epi64(sum_lo, _mm512_cvtepi32_epi64(_mm512_castsi512_si256(block)));
      sum_hi = _mm512_add_epi64(sum_hi, _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(block, 1)));
    }
    _mm512_storeu_si512(corr + j16, _mm512_slli_epi64(sum_lo, 7));
    _mm512_storeu_si512(corr + j16 + 8, _mm512_slli_epi64(sum_hi, 7));
  }
}

// Stores the int32 lanes acc, sign-extended, minus corr[0 .. 16) (first =
// true), or adds them to c, into c[0 .. cols), cols <= 16.
ZIMT_AVX512 inline void flush16_u8s8(int64_t* c, __m512i acc, int64_t cols, bool first, const int64_t* corr) {
  const __mmask8 lo_mask = cols >= 8 ? 0xFF : static_cast<__mmask8>((1u << cols) - 1);
  const __mmask8 hi_mask = cols >= 16 ? 0xFF : cols <= 8 ? 0 : static_cast<__mmask8>((1u << (cols - 8)) - 1);
  __m512i lo = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(acc));
  __m512i hi = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(acc, 1));
  if (first) {
    lo = _mm512_sub_epi64(lo, _mm512_loadu_si512(corr));
    hi = _mm512_sub_epi64(hi, _mm512_loadu_si512(corr + 8));
  } else {
    lo = _mm512_add_epi64(lo, _mm512_maskz_loadu_epi64(lo_mask, c));
    hi = _mm512_add_epi64(hi, _mm512_maskz_loadu_epi64(hi_mask, c + 8));
  }
  _mm512_mask_storeu_epi64(c, lo_mask, lo);
  _mm512_mask_storeu_epi64(c + 8, hi_mask, hi);
}

// Stores the int32 lanes acc minus corr[0 .. 16) (modulo 2^32) into c[0 ..
// cols), cols <= 16 (an int32 C takes all of k in one run).
ZIMT_AVX512 __attribute__((noinline)) void flush16_u8s8(int32_t* c, __m512i acc, int64_t cols, bool,
                                                        const int64_t* corr) {
  const __m512i corr32 = _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtepi64_epi32(_mm512_loadu_si512(corr))),
                                            _mm512_cvtepi64_epi32(_mm512_loadu_si512(corr + 8)), 1);
  _mm512_mask_storeu_epi32(c, cols >= 16 ? __mmask16{0xFFFF} : static_cast<__mmask16>((1u << cols) - 1),
                           _mm512_sub_epi32(acc, corr32));
}

// Micro-tile: c (rows, cols) (+)= A8 rows (kMR, 4·steps) · panel (steps, 16·NV) (- corr when first)
// a: first row at the first k-quad, row stride kq; b: panel at the first k-quad.
template <int NV, class TC>
ZIMT_AVX512 void micro_tile_u8(TC* c, int64_t ldc, const uint8_t* a, int64_t kq, const int32_t* b, int64_t steps,
                               int64_t rows, int64_t cols, bool first, const int64_t* corr) {
  // Every loop over r and v is unrolled so that acc stays in registers.
  __m512i acc[kMR][NV];
#pragma GCC unroll 8
  for (int r = 0; r < kMR; ++r)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_si512();
  for (int64_t q = 0; q < steps; ++q) {
    __m512i bv[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) bv[v] = _mm512_load_si512(b + (q * NV + v) * 16);
#pragma GCC unroll 8
    for (int r = 0; r < kMR; ++r) {
      int32_t quad;
      std::memcpy(&quad, a + r * kq + 4 * q, sizeof quad);
      const __m512i av = _mm512_set1_epi32(quad);
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_dpbusd_epi32(acc[r][v], av, bv[v]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < kMR; ++r)
    if (r < rows)
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v)
        if (int64_t{16} * v < cols)
          flush16_u8s8(c + r * ldc + int64_t{16} * v, acc[r][v], cols - int64_t{16} * v, first, corr + int64_t{16} * v);
  // Clean upper vector state on return: the last int32 flush (not inlined)
  // would otherwise be a tail call past the compiler's vzeroupper, and the
  // caller's SSE code then runs several times slower (requantize after an
  // int32-C GEMM: 3.6x, measured).
  _mm256_zeroupper();
}

template <class TC>
using MicroTileU8 = void (*)(TC*, int64_t, const uint8_t*, int64_t, const int32_t*, int64_t, int64_t, int64_t, bool,
                             const int64_t*);
template <class TC>
constexpr MicroTileU8<TC> kMicroTileU8[kMaxNV + 1] = {nullptr, &micro_tile_u8<1, TC>, &micro_tile_u8<2, TC>,
                                                      &micro_tile_u8<3, TC>, &micro_tile_u8<4, TC>};

// This file's kernels for blocked_gemm (gemm_common.hpp) and
// blocked_gemm_u8s8 (gemm_u8s8.hpp).
struct Isa {
  static constexpr int64_t kLanes = 16, kMR = ::zimt::kernels::detail::kMR, kMaxNV = ::zimt::kernels::detail::kMaxNV,
                           kSmallM = ::zimt::kernels::detail::kSmallM;
  template <class T>
  static uint32_t pack_a(int16_t* a16, int64_t kp, const T* a, int64_t lda, int64_t m, int64_t k) {
    return ::zimt::kernels::detail::pack_a(a16, kp, a, lda, m, k);
  }
  template <class T>
  static uint32_t pack_b(int32_t* packed, const T* b, int64_t ldb, int64_t n, int64_t k) {
    return ::zimt::kernels::detail::pack_b(packed, b, ldb, n, k);
  }
  static uint32_t pack_b_rows(int32_t* packed, const int16_t* b, const int64_t* rows, int64_t n, int64_t k) {
    return ::zimt::kernels::detail::pack_b_rows(packed, b, rows, n, k);
  }
  static int panel_nv(int64_t j0, int64_t n) { return ::zimt::kernels::detail::panel_nv(j0, n); }
  static void split_bytes(int32_t* lo, int32_t* hi, int64_t words) {
    ::zimt::kernels::detail::split_bytes(lo, hi, words);
  }
  template <class TC>
  static void micro_tile(int nv, TC* c, int64_t ldc, const int16_t* a, int64_t kp, const int32_t* b, int64_t steps,
                         int64_t rows, int64_t cols, bool first, int shift) {
    kMicroTile<TC>[nv](c, ldc, a, kp, b, steps, rows, cols, first, shift);
  }
  static void pack_a_u8(uint8_t* a8, int64_t kq, const int8_t* a, int64_t lda, int64_t m, int64_t k) {
    ::zimt::kernels::detail::pack_a_u8(a8, kq, a, lda, m, k);
  }
  static void pack_b_s8(int32_t* packed, int64_t* corr, const int8_t* b, int64_t ldb, int64_t n, int64_t k) {
    ::zimt::kernels::detail::pack_b_s8(packed, corr, b, ldb, n, k);
  }
  template <class TC>
  static void micro_tile_u8(int nv, TC* c, int64_t ldc, const uint8_t* a, int64_t kq, const int32_t* b, int64_t steps,
                            int64_t rows, int64_t cols, bool first, const int64_t* corr) {
    kMicroTileU8<TC>[nv](c, ldc, a, kq, b, steps, rows, cols, first, corr);
  }
  template <class TA, class TB, class TC>
  static void gemm_dots(TC* c, int64_t ldc, const TA* a, int64_t lda, const TB* b, int64_t ldb, int64_t m, int64_t n,
                        int64_t k, int shift = 0, bool accumulate = false) {
    ::zimt::kernels::detail::gemm_dots(c, ldc, a, lda, b, ldb, m, n, k, shift, accumulate);
  }
};

}  // namespace

constinit const Implementation avx512vnni_implementation{
    "avx512vnni",
    &available,
    &blocked_gemm<Isa, int8_t, int16_t>,
    &blocked_gemm<Isa, int16_t, int8_t>,
    &blocked_gemm<Isa, int16_t, int16_t>,
    &blocked_gemm_u8s8<Isa>,
    &blocked_gemm<Isa, int8_t, int16_t, int32_t>,
    &blocked_gemm<Isa, int16_t, int8_t, int32_t>,
    &blocked_gemm<Isa, int16_t, int16_t, int32_t>,
    &blocked_gemm_u8s8<Isa, int32_t>,
    &blocked_gemm_segmented<Isa, int16_t, int8_t>,
    &blocked_gemm_segmented<Isa, int16_t, int16_t>,
    &blocked_gemm_rows<Isa, int8_t>,
    &blocked_gemm_rows<Isa, int16_t>,
    &blocked_gemm_rows<Isa, int8_t, int32_t>,
    &blocked_gemm_rows<Isa, int16_t, int32_t>,
};

}  // namespace zimt::kernels::detail
