#pragma once
// The narrow kernel interface of the engine: exact integer C = A·Bᵀ. Every result is the exact integer sum in int64 for
// ANY values of the element types (k < 2^31), or, with an int32 C, that sum modulo 2^32 (exact when it fits int32),
// so all implementations agree bit for bit by construction (tests/core/test_gemm.cpp checks it on random and extreme
// data).
//
// Implementations, chosen once at start-up (best one the CPU supports):
//   avx512vnni: packed micro-kernels on vpdpwssd (int16 operands) and
//               vpdpbusd (int8 x int8: four products per lane, twice the
//               rate), zmm, 16 int32 lanes
//   avxvnni:    int8 x int8 on vpdpbusd (ymm, 8 int32 lanes, AVX-VNNI);
//               the int16 operand pairs as avx2
//   avx2:       packed micro-kernel on vpmaddwd + vpaddd (ymm, 8 int32 lanes;
//               int8 operands sign-extended to int16)
//   scalar:     int64 rows of dot products (the reference)
// ZIMT_KERNEL=scalar|avx2|avxvnni|avx512vnni in the environment forces one (when the
// CPU can run it; otherwise the best available is used). kernel_name() tells
// which one runs. The vector kernels sum in int32 lanes between int64 flushes
// (an int32 C: no flushes); the overflow bounds are in
// src/core/kernels/gemm_common.hpp and gemm_u8s8.hpp.
// The caller parallelises (kernels are serial and thread-safe).
#include <cstdint>
#include <span>

namespace zimt::kernels {

// c[i*ldc + j] = sum_t a[i*lda + t] * b[j*ldb + t]   for i < m, j < n.
// a is (m,k) with row stride lda, b is (n,k) with row stride ldb, c is (m,n)
// with row stride ldc. k = 0 gives zeros.
void gemm_nt(int64_t* c, int64_t ldc, const int8_t* a, int64_t lda, const int16_t* b, int64_t ldb, int64_t m, int64_t n,
             int64_t k);
void gemm_nt(int64_t* c, int64_t ldc, const int16_t* a, int64_t lda, const int8_t* b, int64_t ldb, int64_t m, int64_t n,
             int64_t k);
void gemm_nt(int64_t* c, int64_t ldc, const int16_t* a, int64_t lda, const int16_t* b, int64_t ldb, int64_t m,
             int64_t n, int64_t k);
void gemm_nt(int64_t* c, int64_t ldc, const int8_t* a, int64_t lda, const int8_t* b, int64_t ldb, int64_t m, int64_t n,
             int64_t k);

// The same with an int32 C: c receives the exact sum modulo 2^32, which is
// the exact sum whenever it fits int32 — certainly when
// sum_fits_int32(k, max|a|, max|b|). The lanes then never leave int32 (no
// flush into int64, no split of B), and C is half the bytes.
void gemm_nt(int32_t* c, int64_t ldc, const int8_t* a, int64_t lda, const int16_t* b, int64_t ldb, int64_t m, int64_t n,
             int64_t k);
void gemm_nt(int32_t* c, int64_t ldc, const int16_t* a, int64_t lda, const int8_t* b, int64_t ldb, int64_t m, int64_t n,
             int64_t k);
void gemm_nt(int32_t* c, int64_t ldc, const int16_t* a, int64_t lda, const int16_t* b, int64_t ldb, int64_t m,
             int64_t n, int64_t k);
void gemm_nt(int32_t* c, int64_t ldc, const int8_t* a, int64_t lda, const int8_t* b, int64_t ldb, int64_t m, int64_t n,
             int64_t k);

inline constexpr int kMaxGemmShift = 48;

// A part of k whose products join C shifted left by `shift`: k in [the
// previous segment's end (0 for the first), end).
struct KSegment {
  int64_t end;
  int shift;
};

// A weight gradient's sample runs (layers/sample_runs.hpp) joined in the
// kernel, k cut into segments s with ends k_s (increasing, the last one k):
//   c (m,n) =     Σ_s 2^shift_s · a[:, k_(s-1)..k_s) · b[:, k_(s-1)..k_s)ᵀ   (accumulate = false)
//   c (m,n) = c + Σ_s 2^shift_s · a[:, k_(s-1)..k_s) · b[:, k_(s-1)..k_s)ᵀ   (accumulate = true)
// for 0 <= shift_s <= kMaxGemmShift, modulo 2^64: exact whenever the result
// fits int64 (the caller's bound). Every end but the last is even (the
// vector kernels take k in pairs). Runs of different shifts then share one
// packing of B and one pass over C, which stays in cache between them.
void gemm_nt_segmented(int64_t* c, int64_t ldc, const int16_t* a, int64_t lda, const int8_t* b, int64_t ldb, int64_t m,
                       int64_t n, int64_t k, std::span<const KSegment> segments, bool accumulate);
void gemm_nt_segmented(int64_t* c, int64_t ldc, const int16_t* a, int64_t lda, const int16_t* b, int64_t ldb, int64_t m,
                       int64_t n, int64_t k, std::span<const KSegment> segments, bool accumulate);

// B read as k rows of one array, row t starting at b + rows[t]:
//   c[i*ldc + j] = sum_t a[i*lda + t] * b[rows[t] + j]   for i < m, j < n.
// The rows may overlap. A stride-1 convolution's patches are shifted views of
// its padded input (rows[t]: where tap t of the first position reads), so its
// GEMM reads the input itself instead of an im2col copy. An int32 C receives
// the sum modulo 2^32, as gemm_nt's.
void gemm_rows(int64_t* c, int64_t ldc, const int8_t* a, int64_t lda, const int16_t* b, const int64_t* rows, int64_t m,
               int64_t n, int64_t k);
void gemm_rows(int64_t* c, int64_t ldc, const int16_t* a, int64_t lda, const int16_t* b, const int64_t* rows, int64_t m,
               int64_t n, int64_t k);
void gemm_rows(int32_t* c, int64_t ldc, const int8_t* a, int64_t lda, const int16_t* b, const int64_t* rows, int64_t m,
               int64_t n, int64_t k);
void gemm_rows(int32_t* c, int64_t ldc, const int16_t* a, int64_t lda, const int16_t* b, const int64_t* rows, int64_t m,
               int64_t n, int64_t k);

// k·amax·bmax <= 2^31 - 1: every sum of k products with |a| <= amax and
// |b| <= bmax (and every partial sum) fits int32.
constexpr bool sum_fits_int32(int64_t k, int64_t amax, int64_t bmax) {
  if (k <= 0 || amax == 0 || bmax == 0) return true;
  return amax * bmax <= int64_t{2147483647} / k;
}

// Name of the implementation gemm_nt uses.
const char* kernel_name();

// One implementation of gemm_nt for the four operand type pairs, int64 and
// int32 C, of gemm_nt_segmented and of gemm_rows.
struct Implementation {
  const char* name;
  bool (*available)();  // can this CPU run it?
  void (*i8_i16)(int64_t* c, int64_t ldc, const int8_t* a, int64_t lda, const int16_t* b, int64_t ldb, int64_t m,
                 int64_t n, int64_t k);
  void (*i16_i8)(int64_t* c, int64_t ldc, const int16_t* a, int64_t lda, const int8_t* b, int64_t ldb, int64_t m,
                 int64_t n, int64_t k);
  void (*i16_i16)(int64_t* c, int64_t ldc, const int16_t* a, int64_t lda, const int16_t* b, int64_t ldb, int64_t m,
                  int64_t n, int64_t k);
  void (*i8_i8)(int64_t* c, int64_t ldc, const int8_t* a, int64_t lda, const int8_t* b, int64_t ldb, int64_t m,
                int64_t n, int64_t k);
  void (*i8_i16_c32)(int32_t* c, int64_t ldc, const int8_t* a, int64_t lda, const int16_t* b, int64_t ldb, int64_t m,
                     int64_t n, int64_t k);
  void (*i16_i8_c32)(int32_t* c, int64_t ldc, const int16_t* a, int64_t lda, const int8_t* b, int64_t ldb, int64_t m,
                     int64_t n, int64_t k);
  void (*i16_i16_c32)(int32_t* c, int64_t ldc, const int16_t* a, int64_t lda, const int16_t* b, int64_t ldb, int64_t m,
                      int64_t n, int64_t k);
  void (*i8_i8_c32)(int32_t* c, int64_t ldc, const int8_t* a, int64_t lda, const int8_t* b, int64_t ldb, int64_t m,
                    int64_t n, int64_t k);
  void (*i16_i8_segmented)(int64_t* c, int64_t ldc, const int16_t* a, int64_t lda, const int8_t* b, int64_t ldb,
                           int64_t m, int64_t n, int64_t k, std::span<const KSegment> segments, bool accumulate);
  void (*i16_i16_segmented)(int64_t* c, int64_t ldc, const int16_t* a, int64_t lda, const int16_t* b, int64_t ldb,
                            int64_t m, int64_t n, int64_t k, std::span<const KSegment> segments, bool accumulate);
  void (*i8_rows)(int64_t* c, int64_t ldc, const int8_t* a, int64_t lda, const int16_t* b, const int64_t* rows,
                  int64_t m, int64_t n, int64_t k);
  void (*i16_rows)(int64_t* c, int64_t ldc, const int16_t* a, int64_t lda, const int16_t* b, const int64_t* rows,
                   int64_t m, int64_t n, int64_t k);
  void (*i8_rows_c32)(int32_t* c, int64_t ldc, const int8_t* a, int64_t lda, const int16_t* b, const int64_t* rows,
                      int64_t m, int64_t n, int64_t k);
  void (*i16_rows_c32)(int32_t* c, int64_t ldc, const int16_t* a, int64_t lda, const int16_t* b, const int64_t* rows,
                       int64_t m, int64_t n, int64_t k);
};

// Every implementation compiled in, best first; the last one (scalar) runs
// everywhere. For tests and benchmarks.
std::span<const Implementation> implementations();

}  // namespace zimt::kernels
