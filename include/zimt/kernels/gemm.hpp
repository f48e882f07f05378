#pragma once
// The narrow kernel interface of the engine: exact integer C = A·Bᵀ. Every result is the exact integer sum in int64 for
// ANY values of the element types (k < 2^31), so all implementations agree bit for bit by construction
// (tests/core/test_gemm.cpp checks it on random and extreme data).
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
// which one runs. The vector kernels sum in int32 lanes between int64 flushes;
// the overflow bounds are in src/core/kernels/gemm_common.hpp.
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

// Name of the implementation gemm_nt uses.
const char* kernel_name();

// One implementation of gemm_nt for the four operand type pairs.
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
};

// Every implementation compiled in, best first; the last one (scalar) runs
// everywhere. For tests and benchmarks.
std::span<const Implementation> implementations();

}  // namespace zimt::kernels
