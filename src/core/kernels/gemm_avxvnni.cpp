// AVX-VNNI implementation of gemm_nt (AVX2 plus the VEX-encoded vpdpbusd;
// CPUs with it but without AVX-512, or with both, forced by ZIMT_KERNEL).
//
// int8 x int8 on vpdpbusd (gemm_u8s8.hpp: a + 128 unsigned, B signed, the
// correction per column), ymm:
//   A8    (round_up(m, kMR), kq) uint8, kq = k rounded up to a multiple of 4:
//         a 32-bit broadcast gives one k-quad.
//   panel (kq/4, 8·nv) int32 words for up to 16 columns of B, word (q, j) =
//         bytes B[j][4q .. 4q+3]: one ymm holds a k-quad of 8 columns.
// Micro-kernel: kMR rows x 8·nv columns of int32 accumulators (4 x 16 = 8
// ymm); per k-quad nv panel loads, kMR broadcasts and kMR·nv vpdpbusd (32
// MACs each, twice vpmaddwd's 16). Fewer than kSmallM rows, and the int16
// operand pairs, run the avx2 implementation's kernels.
#include <cpuid.h>
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "gemm_avx2_transpose.hpp"
#include "gemm_common.hpp"
#include "gemm_u8s8.hpp"

#define ZIMT_AVXVNNI __attribute__((target("avx2,avxvnni")))

namespace zimt::kernels::detail {

namespace {

constexpr int kMR = 4;                               // rows of A per micro-tile
constexpr int kMaxNV = 2;                            // ymm per micro-tile row: up to 16 columns of B
constexpr int64_t kPanelCols = int64_t{8} * kMaxNV;  // columns of B per panel
constexpr int64_t kSmallM = 4;                       // fewer rows than this: avx2's dot products

// AVX-VNNI is CPUID leaf 7, sub-leaf 1, EAX bit 4 (read directly: clang 14's
// __builtin_cpu_supports does not know "avxvnni"); the avx2 check covers the
// operating system's support for the ymm state.
bool available() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__builtin_cpu_supports("avx2") || __get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx) == 0) return false;
  return (eax >> 4) & 1u;
}

// 32 bytes from p; the first `valid` are loaded, the rest are 0.
ZIMT_AVXVNNI inline __m256i load32_bytes(const int8_t* p, int64_t valid) {
  if (valid >= 32) return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  alignas(32) int8_t tail[32] = {};
  std::memcpy(tail, p, static_cast<size_t>(std::max<int64_t>(valid, 0)));
  return _mm256_load_si256(reinterpret_cast<const __m256i*>(tail));
}

// A (m,k) int8 -> A8 (round_up(m, kMR), kq) uint8 = a + 128 (a ^ 0x80), zero padded.
ZIMT_AVXVNNI void pack_a_u8(uint8_t* a8, int64_t kq, const int8_t* a, int64_t lda, int64_t m, int64_t k) {
  const __m256i offset = _mm256_set1_epi8(static_cast<char>(0x80));
  for (int64_t i = 0; i < m; ++i) {
    int64_t t = 0;
    for (; t + 32 <= k; t += 32)
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(a8 + i * kq + t),
                          _mm256_xor_si256(load32_bytes(a + i * lda + t, 32), offset));
    for (; t < kq; ++t) a8[i * kq + t] = t < k ? static_cast<uint8_t>(a[i * lda + t] ^ 0x80) : uint8_t{0};
  }
  std::memset(a8 + m * kq, 0, static_cast<size_t>((round_up(m, kMR) - m) * kq));
}

// Width of the panel starting at column j0 in ymm (8 columns each).
inline int panel_nv(int64_t j0, int64_t n) { return static_cast<int>(std::min<int64_t>(kMaxNV, (n - j0 + 7) / 8)); }

// B (n,k) int8 -> panels of 8·nv columns (above; the panel at column j0
// starts at word j0·kq/4) and corr[j] = 128·Σ_t b[j,t] (0 for the padding
// columns up to round_up(n, 8)). 8 rows of B at a time, 8 k-quads per 8x8
// transpose; the row sums come from the transposed words (lane i = row i),
// in int32 per block of 32 k and int64 across blocks.
ZIMT_AVXVNNI void pack_b_s8(int32_t* packed, int64_t* corr, const int8_t* b, int64_t ldb, int64_t n, int64_t k) {
  const int64_t quads = (k + 3) / 4;
  const __m256i ones = _mm256_set1_epi8(1);
  for (int64_t j8 = 0; j8 < n; j8 += 8) {
    const int64_t j0 = j8 / kPanelCols * kPanelCols;  // first column of this panel
    const int nv = panel_nv(j0, n);
    const int64_t jv = (j8 - j0) / 8;  // ymm within the panel row
    int32_t* panel = packed + j0 * quads;
    __m256i sum_lo = _mm256_setzero_si256(), sum_hi = _mm256_setzero_si256();  // int64 row sums, rows 0-3, 4-7
    for (int64_t q0 = 0; q0 < quads; q0 += 8) {
      __m256i r[8];
      for (int64_t i = 0; i < 8; ++i)
        r[i] = j8 + i < n ? load32_bytes(b + (j8 + i) * ldb + 4 * q0, k - 4 * q0) : _mm256_setzero_si256();
      transpose8(r);
      __m256i block = _mm256_setzero_si256();
      for (int64_t q = q0; q < std::min(quads, q0 + 8); ++q) {
        _mm256_store_si256(reinterpret_cast<__m256i*>(panel + (q * nv + jv) * 8), r[q - q0]);
        block = _mm256_dpbusd_avx_epi32(block, ones, r[q - q0]);
      }
      sum_lo = _mm256_add_epi64(sum_lo, _mm256_cvtepi32_epi64(_mm256_castsi256_si128(block)));
      sum_hi = _mm256_add_epi64(sum_hi, _mm256_cvtepi32_epi64(_mm256_extracti128_si256(block, 1)));
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(corr + j8), _mm256_slli_epi64(sum_lo, 7));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(corr + j8 + 4), _mm256_slli_epi64(sum_hi, 7));
  }
}

// Stores the int32 lanes acc, sign-extended, minus corr[0 .. 8) (first =
// true), or adds them to c, into c[0 .. cols), cols <= 8.
ZIMT_AVXVNNI inline void flush8_u8s8(int64_t* c, __m256i acc, int64_t cols, bool first, const int64_t* corr) {
  alignas(32) int64_t v[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(v), _mm256_cvtepi32_epi64(_mm256_castsi256_si128(acc)));
  _mm256_store_si256(reinterpret_cast<__m256i*>(v + 4), _mm256_cvtepi32_epi64(_mm256_extracti128_si256(acc, 1)));
  for (int64_t j = 0; j < cols; ++j) c[j] = first ? v[j] - corr[j] : c[j] + v[j];
}

// Stores the int32 lanes acc minus corr[0 .. 8) (modulo 2^32) into c[0 ..
// cols), cols <= 8 (an int32 C takes all of k in one run).
ZIMT_AVXVNNI __attribute__((noinline)) void flush8_u8s8(int32_t* c, __m256i acc, int64_t cols, bool,
                                                        const int64_t* corr) {
  alignas(32) uint32_t v[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(v), acc);
  for (int64_t j = 0; j < cols; ++j) c[j] = static_cast<int32_t>(v[j] - static_cast<uint32_t>(corr[j]));
}

// Micro-tile: c (rows, cols) (+)= A8 rows (kMR, 4·steps) · panel (steps, 8·NV) (- corr when first)
// a: first row at the first k-quad, row stride kq; b: panel at the first k-quad.
template <int NV, class TC>
ZIMT_AVXVNNI void micro_tile_u8(TC* c, int64_t ldc, const uint8_t* a, int64_t kq, const int32_t* b, int64_t steps,
                                int64_t rows, int64_t cols, bool first, const int64_t* corr) {
  // Every loop over r and v is unrolled so that acc stays in registers.
  __m256i acc[kMR][NV];
#pragma GCC unroll 8
  for (int r = 0; r < kMR; ++r)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm256_setzero_si256();
  for (int64_t q = 0; q < steps; ++q) {
    __m256i bv[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) bv[v] = _mm256_load_si256(reinterpret_cast<const __m256i*>(b + (q * NV + v) * 8));
#pragma GCC unroll 8
    for (int r = 0; r < kMR; ++r) {
      int32_t quad;
      std::memcpy(&quad, a + r * kq + 4 * q, sizeof quad);
      const __m256i av = _mm256_set1_epi32(quad);
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm256_dpbusd_avx_epi32(acc[r][v], av, bv[v]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < kMR; ++r)
    if (r < rows)
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v)
        if (int64_t{8} * v < cols)
          flush8_u8s8(c + r * ldc + int64_t{8} * v, acc[r][v], std::min<int64_t>(8, cols - int64_t{8} * v), first,
                      corr + int64_t{8} * v);
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
constexpr MicroTileU8<TC> kMicroTileU8[kMaxNV + 1] = {nullptr, &micro_tile_u8<1, TC>, &micro_tile_u8<2, TC>};

// This file's kernels for blocked_gemm_u8s8 (gemm_u8s8.hpp).
struct Isa {
  static constexpr int64_t kLanes = 8, kMR = ::zimt::kernels::detail::kMR, kMaxNV = ::zimt::kernels::detail::kMaxNV,
                           kSmallM = ::zimt::kernels::detail::kSmallM;
  static void pack_a_u8(uint8_t* a8, int64_t kq, const int8_t* a, int64_t lda, int64_t m, int64_t k) {
    ::zimt::kernels::detail::pack_a_u8(a8, kq, a, lda, m, k);
  }
  static void pack_b_s8(int32_t* packed, int64_t* corr, const int8_t* b, int64_t ldb, int64_t n, int64_t k) {
    ::zimt::kernels::detail::pack_b_s8(packed, corr, b, ldb, n, k);
  }
  static int panel_nv(int64_t j0, int64_t n) { return ::zimt::kernels::detail::panel_nv(j0, n); }
  template <class TC>
  static void micro_tile_u8(int nv, TC* c, int64_t ldc, const uint8_t* a, int64_t kq, const int32_t* b, int64_t steps,
                            int64_t rows, int64_t cols, bool first, const int64_t* corr) {
    kMicroTileU8<TC>[nv](c, ldc, a, kq, b, steps, rows, cols, first, corr);
  }
  static void gemm_dots(int64_t* c, int64_t ldc, const int8_t* a, int64_t lda, const int8_t* b, int64_t ldb, int64_t m,
                        int64_t n, int64_t k) {
    avx2_implementation.i8_i8(c, ldc, a, lda, b, ldb, m, n, k);
  }
  static void gemm_dots(int32_t* c, int64_t ldc, const int8_t* a, int64_t lda, const int8_t* b, int64_t ldb, int64_t m,
                        int64_t n, int64_t k) {
    avx2_implementation.i8_i8_c32(c, ldc, a, lda, b, ldb, m, n, k);
  }
};

}  // namespace

constinit const Implementation avxvnni_implementation{
    "avxvnni",
    &available,
    [](int64_t* c, int64_t ldc, const int8_t* a, int64_t lda, const int16_t* b, int64_t ldb, int64_t m, int64_t n,
       int64_t k) { avx2_implementation.i8_i16(c, ldc, a, lda, b, ldb, m, n, k); },
    [](int64_t* c, int64_t ldc, const int16_t* a, int64_t lda, const int8_t* b, int64_t ldb, int64_t m, int64_t n,
       int64_t k) { avx2_implementation.i16_i8(c, ldc, a, lda, b, ldb, m, n, k); },
    [](int64_t* c, int64_t ldc, const int16_t* a, int64_t lda, const int16_t* b, int64_t ldb, int64_t m, int64_t n,
       int64_t k) { avx2_implementation.i16_i16(c, ldc, a, lda, b, ldb, m, n, k); },
    &blocked_gemm_u8s8<Isa>,
    [](int32_t* c, int64_t ldc, const int8_t* a, int64_t lda, const int16_t* b, int64_t ldb, int64_t m, int64_t n,
       int64_t k) { avx2_implementation.i8_i16_c32(c, ldc, a, lda, b, ldb, m, n, k); },
    [](int32_t* c, int64_t ldc, const int16_t* a, int64_t lda, const int8_t* b, int64_t ldb, int64_t m, int64_t n,
       int64_t k) { avx2_implementation.i16_i8_c32(c, ldc, a, lda, b, ldb, m, n, k); },
    [](int32_t* c, int64_t ldc, const int16_t* a, int64_t lda, const int16_t* b, int64_t ldb, int64_t m, int64_t n,
       int64_t k) { avx2_implementation.i16_i16_c32(c, ldc, a, lda, b, ldb, m, n, k); },
    &blocked_gemm_u8s8<Isa, int32_t>,
    [](int64_t* c, int64_t ldc, const int16_t* a, int64_t lda, const int8_t* b, int64_t ldb, int64_t m, int64_t n,
       int64_t k, std::span<const KSegment> segments, bool accumulate) {
      avx2_implementation.i16_i8_segmented(c, ldc, a, lda, b, ldb, m, n, k, segments, accumulate);
    },
    [](int64_t* c, int64_t ldc, const int16_t* a, int64_t lda, const int16_t* b, int64_t ldb, int64_t m, int64_t n,
       int64_t k, std::span<const KSegment> segments, bool accumulate) {
      avx2_implementation.i16_i16_segmented(c, ldc, a, lda, b, ldb, m, n, k, segments, accumulate);
    },
    [](int64_t* c, int64_t ldc, const int8_t* a, int64_t lda, const int16_t* b, const int64_t* rows, int64_t m,
       int64_t n, int64_t k) { avx2_implementation.i8_rows(c, ldc, a, lda, b, rows, m, n, k); },
    [](int64_t* c, int64_t ldc, const int16_t* a, int64_t lda, const int16_t* b, const int64_t* rows, int64_t m,
       int64_t n, int64_t k) { avx2_implementation.i16_rows(c, ldc, a, lda, b, rows, m, n, k); },
    [](int32_t* c, int64_t ldc, const int8_t* a, int64_t lda, const int16_t* b, const int64_t* rows, int64_t m,
       int64_t n, int64_t k) { avx2_implementation.i8_rows_c32(c, ldc, a, lda, b, rows, m, n, k); },
    [](int32_t* c, int64_t ldc, const int16_t* a, int64_t lda, const int16_t* b, const int64_t* rows, int64_t m,
       int64_t n, int64_t k) { avx2_implementation.i16_rows_c32(c, ldc, a, lda, b, rows, m, n, k); },
};

}  // namespace zimt::kernels::detail
