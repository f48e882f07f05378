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
//
// int32 C. The entries with an int32 C return the exact sum modulo 2^32
// (wrapping int32 lanes: vpdpwssd, vpmaddwd + vpaddd and vpdpbusd all add
// modulo 2^32), which IS the exact sum whenever that fits int32; so they run
// all of k in the lanes without flushing or splitting, and every
// implementation returns the same bits for any operands.
#include <algorithm>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <memory>
#include <new>
#include <span>
#include <type_traits>

#include "zimt/kernels/gemm.hpp"
#include "zimt/kernels/max_abs.hpp"

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
// An int32 C (TC) receives the int64 sum modulo 2^32.
template <class TA, class TB, class TC = int64_t>
void reference_gemm_nt(TC* c, int64_t ldc, const TA* a, int64_t lda, const TB* b, int64_t ldb, int64_t m, int64_t n,
                       int64_t k) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      int64_t s = 0;
      for (int64_t t = 0; t < k; ++t) s += int64_t{a[i * lda + t]} * b[j * ldb + t];
      c[i * ldc + j] = static_cast<TC>(s);
    }
}

// c = 2^shift·sum, or c + 2^shift·sum when accumulating, modulo 2^64 (an
// int32 C: sum modulo 2^32, never shifted or accumulated).
inline void store_sum(int64_t& c, int64_t sum, int shift, bool accumulate) {
  const uint64_t shifted = static_cast<uint64_t>(sum) << shift;
  c = static_cast<int64_t>(accumulate ? static_cast<uint64_t>(c) + shifted : shifted);
}
inline void store_sum(int32_t& c, int64_t sum, int, bool) { c = static_cast<int32_t>(sum); }

// gemm_nt_segmented's definition (gemm.hpp) on the reference's sums.
template <class TA, class TB>
void reference_gemm_nt_segmented(int64_t* c, int64_t ldc, const TA* a, int64_t lda, const TB* b, int64_t ldb, int64_t m,
                                 int64_t n, [[maybe_unused]] int64_t k, std::span<const KSegment> segments,
                                 bool accumulate) {
  assert(!segments.empty() && segments.back().end == k);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      bool add = accumulate;
      int64_t t = 0;
      for (const KSegment& segment : segments) {
        int64_t s = 0;
        for (; t < segment.end; ++t) s += int64_t{a[i * lda + t]} * b[j * ldb + t];
        store_sum(c[i * ldc + j], s, segment.shift, add);
        add = true;
      }
    }
}

// gemm_rows' definition (gemm.hpp) on the reference's sums.
template <class TA, class TC>
void reference_gemm_rows(TC* c, int64_t ldc, const TA* a, int64_t lda, const int16_t* b, const int64_t* rows, int64_t m,
                         int64_t n, int64_t k) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      int64_t s = 0;
      for (int64_t t = 0; t < k; ++t) s += int64_t{a[i * lda + t]} * b[rows[t] + j];
      c[i * ldc + j] = static_cast<TC>(s);
    }
}

template <class TC>
void fill_zero(TC* c, int64_t ldc, int64_t m, int64_t n) {
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
// gemm_avxvnni.cpp, gemm_avx512.cpp); gemm.cpp lists and dispatches them.
extern const Implementation scalar_implementation;
extern const Implementation avx2_implementation;
extern const Implementation avxvnni_implementation;
extern const Implementation avx512vnni_implementation;

// The blocked gemm_nt of the SIMD implementations, written once. Isa (a
// struct of the implementation's file) supplies kLanes (int32 lanes per
// vector), kMR, kMaxNV, kSmallM and, compiled for its instruction set,
// pack_a, pack_b, pack_b_rows, panel_nv, split_bytes, micro_tile(nv, ...)
// and gemm_dots (gemm_avx2.cpp / gemm_avx512.cpp describe them). The loops
// here only schedule those calls, so they need no target attribute of their
// own.
//   C (m,n) int64 = A (m,k) · B (n,k)ᵀ: B panels of kLanes·nv columns,
//   A micro-tiles of kMR rows, k in runs of `flush` pairs between flushes;
//   C int32 (TC): all of k in one run, modulo 2^32 (micro_tile overloaded
//   on C's type).
//   gemm_nt_segmented (int64 C): k in runs within each segment, every flush
//   shifted by the segment's shift (+ 8 for the high bytes), and the first
//   one adds to C instead of storing when accumulating. The C tile stays in
//   registers and L1 from one segment to the next.

// The micro-tiles over packed operands: A (m,k) packed by Isa::pack_a, B's
// panels ((k+1)/2 pairs of n columns) by pack_b(panels), which returns
// max |b|; the panels are split into bytes in place when an int64 C needs it.
// An int16 A with even k is already what the micro-tiles read (rows of
// k-pairs, any row stride), so its full kMR-row tiles are read in place and
// only the last m % kMR rows are packed (zero rows below them); an int64 C
// then scans the rows in place for max |a|. A convolution's weights are A
// for every group of samples: packing them copied the weights once per group.
template <class Isa, class TC, class TA, class PackB>
void blocked_packed(TC* c, int64_t ldc, const TA* a, int64_t lda, PackB&& pack_b, int64_t m, int64_t n, int64_t k,
                    std::span<const KSegment> segments, bool accumulate) {
  thread_local Scratch<int16_t> a_buf;
  thread_local Scratch<int32_t> b_buf, b_hi_buf;
  constexpr int64_t lanes = Isa::kLanes;
  constexpr bool wide = sizeof(TC) == 8;
  const int64_t pairs = (k + 1) / 2, kp = 2 * pairs;
  const int64_t words = round_up(n, lanes) * pairs;  // all panels
  const int64_t in_place = std::is_same_v<TA, int16_t> && k % 2 == 0 ? m / Isa::kMR * Isa::kMR : 0;
  // Sized for all of A, packed or not, as when every A was packed: a thread
  // whose first packed A comes in a later step then allocates nothing.
  int16_t* a16 = a_buf.get(static_cast<size_t>(round_up(m, Isa::kMR) * kp));
  int32_t* panels = b_buf.get(static_cast<size_t>(words));
  uint32_t amax = in_place < m ? Isa::pack_a(a16, kp, a + in_place * lda, lda, m - in_place, k) : 0;
  const int16_t* a_rows = nullptr;  // the rows read in place
  if constexpr (std::is_same_v<TA, int16_t>) {
    a_rows = a;
    for (int64_t i = 0; wide && i < in_place; ++i)
      amax = std::max(amax, static_cast<uint32_t>(max_abs(a + i * lda, k)));
  }
  const uint32_t bmax = pack_b(panels);
  int64_t flush = wide ? flush_steps(amax, bmax) : pairs;
  int32_t* panels_hi = nullptr;  // the high bytes of B when split
  if (wide && flush < kMinFlushSteps) {
    panels_hi = b_hi_buf.get(static_cast<size_t>(words));
    Isa::split_bytes(panels, panels_hi, words);
    flush = flush_steps(amax, kSplitMaxAbs);
  }
  for (int64_t j0 = 0; j0 < n; j0 += lanes * Isa::kMaxNV) {
    const int nv = Isa::panel_nv(j0, n);
    const int64_t cols = std::min<int64_t>(lanes * Isa::kMaxNV, n - j0);
    for (int64_t i0 = 0; i0 < m; i0 += Isa::kMR) {
      const int64_t rows = std::min<int64_t>(Isa::kMR, m - i0), a_ld = i0 < in_place ? lda : kp;
      TC* ct = c + i0 * ldc + j0;
      bool first = !accumulate;
      int64_t p_begin = 0;
      for (const KSegment& segment : segments) {
        assert(segment.end == k || segment.end % 2 == 0);
        // The last pair of an odd k is padded with 0; flush may be int64's
        // maximum, so p0 advances by the steps taken.
        const int64_t p_end = (segment.end + 1) / 2;
        for (int64_t p0 = p_begin, steps = 0; p0 < p_end; p0 += steps) {
          steps = std::min(flush, p_end - p0);
          const int16_t* at = (i0 < in_place ? a_rows + i0 * lda : a16 + (i0 - in_place) * kp) + 2 * p0;
          const int64_t offset = j0 * pairs + p0 * nv * lanes;
          Isa::micro_tile(nv, ct, ldc, at, a_ld, panels + offset, steps, rows, cols, first, segment.shift);
          if (panels_hi != nullptr)
            Isa::micro_tile(nv, ct, ldc, at, a_ld, panels_hi + offset, steps, rows, cols, false, segment.shift + 8);
          first = false;
        }
        p_begin = p_end;
      }
    }
  }
}

template <class Isa, class TA, class TB, class TC = int64_t>
void blocked_gemm_segmented(TC* c, int64_t ldc, const TA* a, int64_t lda, const TB* b, int64_t ldb, int64_t m,
                            int64_t n, int64_t k, std::span<const KSegment> segments, bool accumulate) {
  assert(!segments.empty() && segments.back().end == k);
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    if (!accumulate) fill_zero(c, ldc, m, n);
    return;
  }
  if (m < Isa::kSmallM) {
    int64_t k0 = 0;
    for (const KSegment& segment : segments) {
      Isa::gemm_dots(c, ldc, a + k0, lda, b + k0, ldb, m, n, segment.end - k0, segment.shift, accumulate || k0 > 0);
      k0 = segment.end;
    }
    return;
  }
  blocked_packed<Isa>(
      c, ldc, a, lda, [&](int32_t* panels) { return Isa::pack_b(panels, b, ldb, n, k); }, m, n, k, segments,
      accumulate);
}

template <class Isa, class TA, class TB, class TC = int64_t>
void blocked_gemm(TC* c, int64_t ldc, const TA* a, int64_t lda, const TB* b, int64_t ldb, int64_t m, int64_t n,
                  int64_t k) {
  const KSegment all{k, 0};
  blocked_gemm_segmented<Isa>(c, ldc, a, lda, b, ldb, m, n, k, {&all, 1}, false);
}

// gemm_rows: B's panels packed straight from its rows (Isa::pack_b_rows),
// every m through the micro-tiles.
template <class Isa, class TA, class TC = int64_t>
void blocked_gemm_rows(TC* c, int64_t ldc, const TA* a, int64_t lda, const int16_t* b, const int64_t* rows, int64_t m,
                       int64_t n, int64_t k) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    fill_zero(c, ldc, m, n);
    return;
  }
  const KSegment all{k, 0};
  blocked_packed<Isa>(
      c, ldc, a, lda, [&](int32_t* panels) { return Isa::pack_b_rows(panels, b, rows, n, k); }, m, n, k, {&all, 1},
      false);
}

}  // namespace zimt::kernels::detail
