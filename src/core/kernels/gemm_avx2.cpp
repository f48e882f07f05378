// AVX2 implementation of gemm_nt (no AVX-512 assumed).
//
// C (m,n) = A (m,k) · B (n,k)ᵀ, operands sign-extended to int16 while packing:
//   A16   (round_up(m, kMR), kp) int16, kp = k rounded up to even, zero padded
//         (rows and the odd column): a 32-bit broadcast gives one k-pair.
//   panel (kp/2, 8·nv) int32 words for up to 16 columns of B, word (p, j) =
//         (B[j][2p], B[j][2p+1]): one ymm holds a k-pair of 8 columns.
// Micro-kernel: kMR rows x 8·nv columns of int32 accumulators (4 x 16 = 8
// ymm); per k-pair nv panel loads, kMR broadcasts and kMR·nv vpmaddwd + vpaddd
// (16 MACs each), flushed (sign-extended) into the int64 C every
// flush_steps() k-pairs (bound and byte split of B in gemm_common.hpp). vpmaddubsw is not used: it
// saturates. For m < kSmallM the rows are dot products with four B rows at a
// time (packing B would cost as much as the product).
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "gemm_avx2_transpose.hpp"
#include "gemm_common.hpp"

#define ZIMT_AVX2 __attribute__((target("avx2")))

namespace zimt::kernels::detail {

namespace {

constexpr int kMR = 4;                               // rows of A per micro-tile
constexpr int kMaxNV = 2;                            // ymm per micro-tile row: up to 16 columns of B
constexpr int64_t kPanelCols = int64_t{8} * kMaxNV;  // columns of B per panel
constexpr int64_t kSmallM = 4;                       // fewer rows than this: dot products, no packing

bool available() { return __builtin_cpu_supports("avx2"); }

// 16 elements from p as int16 (int8 sign-extended); the first `valid` are
// loaded, the rest are 0.
ZIMT_AVX2 inline __m256i load16(const int8_t* p, int64_t valid) {
  if (valid >= 16) return _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  alignas(16) int8_t tail[16] = {};
  std::memcpy(tail, p, static_cast<size_t>(std::max<int64_t>(valid, 0)));
  return _mm256_cvtepi8_epi16(_mm_load_si128(reinterpret_cast<const __m128i*>(tail)));
}
ZIMT_AVX2 inline __m256i load16(const int16_t* p, int64_t valid) {
  if (valid >= 16) return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  alignas(32) int16_t tail[16] = {};
  std::memcpy(tail, p, static_cast<size_t>(std::max<int64_t>(valid, 0)) * sizeof(int16_t));
  return _mm256_load_si256(reinterpret_cast<const __m256i*>(tail));
}

// Running max |x| over int16 lanes, unsigned (|-32768| = 32768 fits).
ZIMT_AVX2 inline __m256i max_abs(__m256i running, __m256i x) { return _mm256_max_epu16(running, _mm256_abs_epi16(x)); }
ZIMT_AVX2 inline uint32_t reduce_max_abs(__m256i running) {
  alignas(32) uint16_t v[16];
  _mm256_store_si256(reinterpret_cast<__m256i*>(v), running);
  return *std::max_element(v, v + 16);
}

// A (m,k) -> A16 (round_up(m, kMR), kp) int16, zero padded; returns max |a|
// (the type's bound for int8, which needs no scan).
template <class T>
ZIMT_AVX2 uint32_t pack_a(int16_t* a16, int64_t kp, const T* a, int64_t lda, int64_t m, int64_t k) {
  __m256i amax = _mm256_setzero_si256();
  for (int64_t i = 0; i < m; ++i) {
    int64_t t = 0;
    for (; t + 16 <= k; t += 16) {
      const __m256i x = load16(a + i * lda + t, 16);
      if constexpr (sizeof(T) == 2) amax = max_abs(amax, x);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(a16 + i * kp + t), x);
    }
    for (; t < kp; ++t) a16[i * kp + t] = t < k ? a[i * lda + t] : int16_t{0};
    if constexpr (sizeof(T) == 2)
      for (t = k / 16 * 16; t < k; ++t) amax = max_abs(amax, _mm256_set1_epi16(a[i * lda + t]));
  }
  std::memset(a16 + m * kp, 0, static_cast<size_t>((round_up(m, kMR) - m) * kp) * sizeof(int16_t));
  if constexpr (sizeof(T) == 2) return reduce_max_abs(amax);
  return type_max_abs<T>;
}

// Width of the panel starting at column j0 in ymm (8 columns each).
inline int panel_nv(int64_t j0, int64_t n) { return static_cast<int>(std::min<int64_t>(kMaxNV, (n - j0 + 7) / 8)); }

// B (n,k) -> panels of 8·nv columns (see the top): panel at column j0 starts
// at word j0·kp/2. 8 rows of B at a time, 8 k-pairs per 8x8 transpose.
// Returns max |b| (the type's bound for int8).
template <class T>
ZIMT_AVX2 uint32_t pack_b(int32_t* packed, const T* b, int64_t ldb, int64_t n, int64_t k) {
  const int64_t pairs = (k + 1) / 2;
  __m256i bmax = _mm256_setzero_si256();
  for (int64_t j8 = 0; j8 < n; j8 += 8) {
    const int64_t j0 = j8 / kPanelCols * kPanelCols;  // first column of this panel
    const int nv = panel_nv(j0, n);
    const int64_t jv = (j8 - j0) / 8;  // ymm within the panel row
    int32_t* panel = packed + j0 * pairs;
    for (int64_t p0 = 0; p0 < pairs; p0 += 8) {
      __m256i r[8];
      for (int64_t i = 0; i < 8; ++i) {
        r[i] = j8 + i < n ? load16(b + (j8 + i) * ldb + 2 * p0, k - 2 * p0) : _mm256_setzero_si256();
        if constexpr (sizeof(T) == 2) bmax = max_abs(bmax, r[i]);
      }
      transpose8(r);
      for (int64_t p = p0; p < std::min(pairs, p0 + 8); ++p)
        _mm256_store_si256(reinterpret_cast<__m256i*>(panel + (p * nv + jv) * 8), r[p - p0]);
    }
  }
  if constexpr (sizeof(T) == 2) return reduce_max_abs(bmax);
  return type_max_abs<T>;
}

// B given as rows (gemm_rows: B[j][t] = b[rows[t] + j]) -> pack_b's panels.
// Per k-pair and 8 columns: 8 values of each of the two rows, interleaved
// into 8 words. Returns max |b|.
ZIMT_AVX2 uint32_t pack_b_rows(int32_t* packed, const int16_t* b, const int64_t* rows, int64_t n, int64_t k) {
  const int64_t pairs = (k + 1) / 2;
  __m256i bmax = _mm256_setzero_si256();
  // 8 values of a row from column j (0 past n).
  auto load8 = [&](int64_t t, int64_t j) {
    if (t >= k) return _mm_setzero_si128();
    if (n - j >= 8) return _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + rows[t] + j));
    alignas(16) int16_t tail[8] = {};
    std::memcpy(tail, b + rows[t] + j, static_cast<size_t>(n - j) * sizeof(int16_t));
    return _mm_load_si128(reinterpret_cast<const __m128i*>(tail));
  };
  for (int64_t j8 = 0; j8 < n; j8 += 8) {
    const int64_t j0 = j8 / kPanelCols * kPanelCols;  // first column of this panel
    const int nv = panel_nv(j0, n);
    const int64_t jv = (j8 - j0) / 8;  // ymm within the panel row
    int32_t* panel = packed + j0 * pairs;
    for (int64_t p = 0; p < pairs; ++p) {
      const __m128i first = load8(2 * p, j8), second = load8(2 * p + 1, j8);
      const __m256i words = _mm256_set_m128i(_mm_unpackhi_epi16(first, second), _mm_unpacklo_epi16(first, second));
      bmax = max_abs(bmax, words);
      _mm256_store_si256(reinterpret_cast<__m256i*>(panel + (p * nv + jv) * 8), words);
    }
  }
  return reduce_max_abs(bmax);
}

// Stores (first = true) or adds the int32 lanes acc, sign-extended and
// shifted left by `shift` (0, or 8 for the hi byte of a split B), into
// c[0 .. cols), cols <= 8.
ZIMT_AVX2 inline void flush8(int64_t* c, __m256i acc, int64_t cols, bool first, int shift) {
  const __m128i count = _mm_cvtsi32_si128(shift);
  const __m256i lo = _mm256_sll_epi64(_mm256_cvtepi32_epi64(_mm256_castsi256_si128(acc)), count);
  const __m256i hi = _mm256_sll_epi64(_mm256_cvtepi32_epi64(_mm256_extracti128_si256(acc, 1)), count);
  if (cols == 8) {
    __m256i* c0 = reinterpret_cast<__m256i*>(c);
    __m256i* c4 = reinterpret_cast<__m256i*>(c + 4);
    _mm256_storeu_si256(c0, first ? lo : _mm256_add_epi64(lo, _mm256_loadu_si256(c0)));
    _mm256_storeu_si256(c4, first ? hi : _mm256_add_epi64(hi, _mm256_loadu_si256(c4)));
    return;
  }
  alignas(32) int64_t v[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(v), lo);
  _mm256_store_si256(reinterpret_cast<__m256i*>(v + 4), hi);
  for (int64_t j = 0; j < cols; ++j)  // modulo 2^64, as the vector adds
    c[j] = first ? v[j] : static_cast<int64_t>(static_cast<uint64_t>(c[j]) + static_cast<uint64_t>(v[j]));
}

// Stores the int32 lanes acc into c[0 .. cols), cols <= 8 (an int32 C takes
// all of k in one run: never split, never added to).
ZIMT_AVX2 __attribute__((noinline)) void flush8(int32_t* c, __m256i acc, int64_t cols, bool, int) {
  if (cols == 8) return _mm256_storeu_si256(reinterpret_cast<__m256i*>(c), acc);
  alignas(32) int32_t v[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(v), acc);
  for (int64_t j = 0; j < cols; ++j) c[j] = v[j];
}

// Micro-tile: c (rows, cols) (+)= 2^shift · A16 rows (kMR, 2·steps) · panel (steps, 8·NV)
// a: first row at the first k-pair, row stride kp; b: panel at the first k-pair.
template <int NV, class TC>
ZIMT_AVX2 void micro_tile(TC* c, int64_t ldc, const int16_t* a, int64_t kp, const int32_t* b, int64_t steps,
                          int64_t rows, int64_t cols, bool first, int shift) {
  // Every loop over r and v is unrolled so that acc stays in registers.
  __m256i acc[kMR][NV];
#pragma GCC unroll 8
  for (int r = 0; r < kMR; ++r)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm256_setzero_si256();
  for (int64_t p = 0; p < steps; ++p) {
    __m256i bv[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) bv[v] = _mm256_load_si256(reinterpret_cast<const __m256i*>(b + (p * NV + v) * 8));
#pragma GCC unroll 8
    for (int r = 0; r < kMR; ++r) {
      int32_t pair;
      std::memcpy(&pair, a + r * kp + 2 * p, sizeof pair);
      const __m256i av = _mm256_set1_epi32(pair);
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm256_add_epi32(acc[r][v], _mm256_madd_epi16(av, bv[v]));
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < kMR; ++r)
    if (r < rows)
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v)
        if (int64_t{8} * v < cols)
          flush8(c + r * ldc + int64_t{8} * v, acc[r][v], std::min<int64_t>(8, cols - int64_t{8} * v), first, shift);
  // Clean upper vector state on return: the last int32 flush (not inlined)
  // would otherwise be a tail call past the compiler's vzeroupper, and the
  // caller's SSE code then runs several times slower (requantize after an
  // int32-C GEMM: 3.6x, measured).
  _mm256_zeroupper();
}

template <class TC>
using MicroTile = void (*)(TC*, int64_t, const int16_t*, int64_t, const int32_t*, int64_t, int64_t, int64_t, bool, int);
template <class TC>
constexpr MicroTile<TC> kMicroTile[kMaxNV + 1] = {nullptr, &micro_tile<1, TC>, &micro_tile<2, TC>};

ZIMT_AVX2 inline int64_t hsum_epi32_as_64(__m256i acc) {
  const __m256i s = _mm256_add_epi64(_mm256_cvtepi32_epi64(_mm256_castsi256_si128(acc)),
                                     _mm256_cvtepi32_epi64(_mm256_extracti128_si256(acc, 1)));
  const __m128i h = _mm_add_epi64(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
  return _mm_cvtsi128_si64(h) + _mm_extract_epi64(h, 1);
}

// sum[q] += sum_t a[t]·bq[q][t] over 16-element blocks [s0, s1) of k, in
// int32 lanes (the caller keeps s1 - s0 within the flush bound). Split: B in
// bytes, sum[q] += sum_t a[t]·lo + 256·sum_t a[t]·hi (gemm_common.hpp).
template <bool Split, class TA, class TB>
ZIMT_AVX2 void dots4(int64_t sum[4], const TA* a, const TB* const bq[4], int64_t k, int64_t s0, int64_t s1) {
  __m256i acc[4], acc_hi[4];
  for (int q = 0; q < 4; ++q) acc[q] = acc_hi[q] = _mm256_setzero_si256();
  for (int64_t s = s0; s < s1; ++s) {
    const int64_t t = 16 * s;
    const __m256i av = load16(a + t, k - t);
    for (int q = 0; q < 4; ++q) {
      const __m256i bv = load16(bq[q] + t, k - t);
      if constexpr (Split) {
        acc[q] = _mm256_add_epi32(acc[q], _mm256_madd_epi16(av, _mm256_and_si256(bv, _mm256_set1_epi16(0xFF))));
        acc_hi[q] = _mm256_add_epi32(acc_hi[q], _mm256_madd_epi16(av, _mm256_srai_epi16(bv, 8)));
      } else {
        acc[q] = _mm256_add_epi32(acc[q], _mm256_madd_epi16(av, bv));
      }
    }
  }
  for (int q = 0; q < 4; ++q) sum[q] += hsum_epi32_as_64(acc[q]) + (Split ? hsum_epi32_as_64(acc_hi[q]) * 256 : 0);
}

// Rows of A against four rows of B at a time, 16 k per vpmaddwd, with a
// horizontal sum at the end (m < kSmallM: no packing). An int32 C receives
// the int64 sums modulo 2^32.
template <class TA, class TB, class TC>
ZIMT_AVX2 void gemm_dots(TC* c, int64_t ldc, const TA* a, int64_t lda, const TB* b, int64_t ldb, int64_t m, int64_t n,
                         int64_t k, int shift, bool accumulate) {
  const int64_t blocks = (k + 15) / 16;  // steps of 16 k
  for (int64_t i = 0; i < m; ++i) {
    const TA* ai = a + i * lda;
    uint32_t amax = type_max_abs<TA>;
    if constexpr (sizeof(TA) == 2) {
      __m256i run = _mm256_setzero_si256();
      for (int64_t t = 0; t < k; t += 16) run = max_abs(run, load16(ai + t, k - t));
      amax = reduce_max_abs(run);
    }
    for (int64_t j0 = 0; j0 < n; j0 += 4) {
      const TB* bq[4];
      for (int64_t q = 0; q < 4; ++q) bq[q] = b + std::min(j0 + q, n - 1) * ldb;  // repeats the last row
      int64_t flush = flush_steps(amax, type_max_abs<TB>);
      if (flush < blocks) {  // int16 B only: look at the actual values
        __m256i run = _mm256_setzero_si256();
        for (int64_t q = 0; q < 4; ++q)
          for (int64_t t = 0; t < k; t += 16) run = max_abs(run, load16(bq[q] + t, k - t));
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
ZIMT_AVX2 void split_bytes(int32_t* lo, int32_t* hi, int64_t words) {
  for (int64_t w = 0; w < words; w += 8) {
    const __m256i x = _mm256_load_si256(reinterpret_cast<const __m256i*>(lo + w));
    _mm256_store_si256(reinterpret_cast<__m256i*>(hi + w), _mm256_srai_epi16(x, 8));
    _mm256_store_si256(reinterpret_cast<__m256i*>(lo + w), _mm256_and_si256(x, _mm256_set1_epi16(0xFF)));
  }
}

// This file's kernels for blocked_gemm (gemm_common.hpp).
struct Isa {
  static constexpr int64_t kLanes = 8, kMR = ::zimt::kernels::detail::kMR, kMaxNV = ::zimt::kernels::detail::kMaxNV,
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
  template <class TA, class TB, class TC>
  static void gemm_dots(TC* c, int64_t ldc, const TA* a, int64_t lda, const TB* b, int64_t ldb, int64_t m, int64_t n,
                        int64_t k, int shift = 0, bool accumulate = false) {
    ::zimt::kernels::detail::gemm_dots(c, ldc, a, lda, b, ldb, m, n, k, shift, accumulate);
  }
};

}  // namespace

constinit const Implementation avx2_implementation{
    "avx2",
    &available,
    &blocked_gemm<Isa, int8_t, int16_t>,
    &blocked_gemm<Isa, int16_t, int8_t>,
    &blocked_gemm<Isa, int16_t, int16_t>,
    &blocked_gemm<Isa, int8_t, int8_t>,
    &blocked_gemm<Isa, int8_t, int16_t, int32_t>,
    &blocked_gemm<Isa, int16_t, int8_t, int32_t>,
    &blocked_gemm<Isa, int16_t, int16_t, int32_t>,
    &blocked_gemm<Isa, int8_t, int8_t, int32_t>,
    &blocked_gemm_segmented<Isa, int16_t, int8_t>,
    &blocked_gemm_segmented<Isa, int16_t, int16_t>,
    &blocked_gemm_rows<Isa, int8_t>,
    &blocked_gemm_rows<Isa, int16_t>,
    &blocked_gemm_rows<Isa, int8_t, int32_t>,
    &blocked_gemm_rows<Isa, int16_t, int32_t>,
};

}  // namespace zimt::kernels::detail
