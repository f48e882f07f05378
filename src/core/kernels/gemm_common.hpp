#pragma once
// Helpers shared by the gemm_nt implementations (internal to src/core/kernels).
//
// Exactness of the vector kernels. vpdpwssd (AVX-512 VNNI) and vpmaddwd +
// vpaddd (AVX2) add, per "step", two int16 x int16 products to an int32 lane,
// wrapping modulo 2^32 (vpdpwssd never saturates; vpmaddwd wraps only for
// (-32768)·(-32768)·2 = 2^31, also modulo 2^32). Sums modulo 2^32 are exact
// whenever the true sum is representable, so a lane that starts at 0 holds the
// exact sum after s steps if s · 2 · max|a| · max|b| <= 2^31 - 1. Each call
// derives max|a| and max|b| from its operands (int8: 128 without looking;
// int16: the actual maximum |value|, found while packing) and flushes the
// int32 lanes into the int64 C every flush_steps() steps. Typical engine
// operands: int8 x int16 gives 2·128·32768 = 2^23 per step, 255 steps (510
// products of k) between flushes.
//
// Byte split. int16 x int16 operands near full range allow only a few steps
// (max|a| = max|b| = 32767: one; both containing -32768: none). Then b is
// split as b = 256·hi + lo, hi = b >> 8 in [-128, 127], lo = b & 255 in
// [0, 255]: a·b = 256·(a·hi) + a·lo, each a product with |factor| <= 256, so
// flush_steps(max|a|, 256) >= 127 steps; the hi sums are shifted left by 8
// when flushed. Twice the multiply work, but exact for every input and far
// cheaper than flushing every step: used when flush_steps() < kMinFlushSteps.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <memory>
#include <new>

#include "zimt/kernels/gemm.hpp"

namespace zimt::kernels::detail {

// Largest |value| an element type allows (the bound used without scanning).
template <class T>
constexpr uint32_t type_max_abs = uint32_t{1} << (8 * sizeof(T) - 1);

// Steps (each adding two products of magnitude <= amax·bmax to an int32 lane)
// whose sum is certainly representable in int32; 0 when even one is not;
// "unbounded" (int64 max) when a product is always 0.
inline int64_t flush_steps(uint32_t amax, uint32_t bmax) {
  const uint64_t per_step = 2 * uint64_t{amax} * bmax;  // <= 2^31
  if (per_step == 0) return std::numeric_limits<int64_t>::max();
  return static_cast<int64_t>(uint64_t{std::numeric_limits<int32_t>::max()} / per_step);
}

// Below this many steps between flushes, the vector kernels split b into
// bytes (see the top): two multiplies per step beat a flush every few steps.
constexpr int64_t kMinFlushSteps = 16;

// |hi| <= 128 and |lo| <= 255 after the byte split.
constexpr uint32_t kSplitMaxAbs = 256;

// The reference: exact int64 products and sums, rows of dot products.
// c (m,n) = a (m,k) · b (n,k)ᵀ
template <class TA, class TB>
void reference_gemm_nt(int64_t* c, int64_t ldc, const TA* a, int64_t lda, const TB* b, int64_t ldb, int64_t m,
                       int64_t n, int64_t k) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      int64_t s = 0;
      for (int64_t t = 0; t < k; ++t) s += int64_t{a[i * lda + t]} * b[j * ldb + t];
      c[i * ldc + j] = s;
    }
}

inline void fill_zero(int64_t* c, int64_t ldc, int64_t m, int64_t n) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = 0;
}

constexpr int64_t round_up(int64_t x, int64_t to) { return (x + to - 1) / to * to; }

// A growable 64-byte-aligned buffer for packed operands; one per thread and
// use (thread_local), so repeated calls allocate nothing.
template <class T>
class Scratch {
 public:
  T* get(size_t n) {
    if (n > capacity_) {
      const size_t bytes = static_cast<size_t>(round_up(static_cast<int64_t>(n * sizeof(T)), 64));
      data_.reset(static_cast<T*>(std::aligned_alloc(64, bytes)));
      if (!data_) throw std::bad_alloc();
      capacity_ = n;
    }
    return data_.get();
  }

 private:
  struct Free {
    void operator()(T* p) const { std::free(p); }
  };
  std::unique_ptr<T, Free> data_;
  size_t capacity_ = 0;
};

// The implementations, one file each (gemm_scalar.cpp, gemm_avx2.cpp,
// gemm_avx512.cpp); gemm.cpp lists and dispatches them.
extern const Implementation scalar_implementation;
extern const Implementation avx2_implementation;
extern const Implementation avx512vnni_implementation;

}  // namespace zimt::kernels::detail
