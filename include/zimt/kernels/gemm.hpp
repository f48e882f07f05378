#pragma once
// The narrow kernel interface of the engine: exact integer dot products and
// C = A·Bᵀ. Every result is the exact integer sum in int64 for ANY values of
// the element types, so the scalar and the AVX2 versions agree bit for bit by
// construction (tests/core/test_gemm.cpp checks it on random data).
//
// Overflow bounds (the AVX2 code accumulates in int32 lanes between int64
// flushes):
//   int8 x int16: |a*b| <= 128*32768 = 2^22; vpmaddwd adds two, so one int32
//                 lane gains < 2^23 per step; flushing to int64 every 128
//                 steps keeps each lane < 2^30.
//   int16 x int16: |a*b| <= 2^30; products are formed in int64 (vpmuldq) and
//                 summed there: never overflows for k < 2^33.
// The caller parallelises (kernels are serial and thread-safe).
#include <cstdint>

namespace zimt::kernels {

// sum_i a[i] * b[i]
int64_t dot(const int8_t* a, const int16_t* b, int64_t k);
int64_t dot(const int16_t* a, const int16_t* b, int64_t k);

// c[i*ldc + j] = sum_t a[i*lda + t] * b[j*ldb + t]   for i < m, j < n.
// a is (m,k) with row stride lda, b is (n,k) with row stride ldb, c is (m,n).
void gemm_nt(int64_t* c, int64_t ldc, const int8_t* a, int64_t lda, const int16_t* b, int64_t ldb, int64_t m,
             int64_t n, int64_t k);
void gemm_nt(int64_t* c, int64_t ldc, const int16_t* a, int64_t lda, const int8_t* b, int64_t ldb, int64_t m,
             int64_t n, int64_t k);
void gemm_nt(int64_t* c, int64_t ldc, const int16_t* a, int64_t lda, const int16_t* b, int64_t ldb, int64_t m,
             int64_t n, int64_t k);

// Which implementation dot/gemm_nt use: chosen once at start-up from
// __builtin_cpu_supports("avx2").
const char* kernel_name();

// Both implementations, for tests and benchmarks.
namespace scalar {
int64_t dot(const int8_t* a, const int16_t* b, int64_t k);
int64_t dot(const int16_t* a, const int16_t* b, int64_t k);
}  // namespace scalar
namespace avx2 {
bool available();
int64_t dot(const int8_t* a, const int16_t* b, int64_t k);
int64_t dot(const int16_t* a, const int16_t* b, int64_t k);
}  // namespace avx2

}  // namespace zimt::kernels
