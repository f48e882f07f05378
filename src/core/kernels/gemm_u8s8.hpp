#pragma once
// The blocked int8 x int8 gemm_nt of the implementations with a u8 x s8
// dot-product instruction (vpdpbusd: four products per int32 lane), written
// once; gemm_avx512.cpp (zmm) and gemm_avxvnni.cpp (ymm) supply the packing
// and the micro-kernel.
//
// Signed A through an offset. The instruction multiplies an UNSIGNED byte by
// a signed one, so A is packed as a + 128 (0..255) and every lane sums
// (a + 128)·b; the exact product is recovered per column j of C:
//   Σ_t a[i,t]·b[j,t] = Σ_t (a[i,t] + 128)·b[j,t] - 128·Σ_t b[j,t],
// with the correction 128·Σ_t b[j,t] computed once per row of B while packing
// it and subtracted at the first flush. Padding (k up to a multiple of 4) is
// zero in B, so whatever A holds there adds nothing.
//
// Exactness: a step adds four products |(a + 128)·b| <= 255·128 to an int32
// lane, so kU8S8FlushSteps steps (65,792 values of k) stay below 2^31 and are
// exact; the lanes are flushed into the int64 C (sign-extended) after that many.
// An int32 C takes all of k in one run, modulo 2^32 (gemm_common.hpp): the
// offset sums may wrap, the difference is still the exact sum modulo 2^32.
#include <algorithm>
#include <cstdint>

#include "gemm_common.hpp"

namespace zimt::kernels::detail {

constexpr int64_t kU8S8FlushSteps = int64_t{2147483647} / (int64_t{4} * 255 * 128);

// Isa supplies kLanes (int32 lanes per vector), kMR, kMaxNV, kSmallM and,
// compiled for its instruction set:
//   pack_a_u8(a8, kq, a, lda, m, k): A (m,k) -> A8 (round_up(m, kMR), kq) uint8 = a + 128
//   pack_b_s8(panels, corr, b, ldb, n, k): B (n,k) -> panels of kLanes·nv columns,
//       (kq/4, kLanes·nv) int32 words of four k-consecutive bytes, and
//       corr[j] = 128·Σ_t b[j,t] for j < round_up(n, kLanes) (0 past n)
//   panel_nv(j0, n), micro_tile_u8(nv, c, ldc, a8, kq, panel, steps, rows, cols, first, corr)
//   gemm_dots(c, ldc, a, lda, b, ldb, m, n, k) for m < kSmallM (no packing)
//   C (m,n) int64 = A (m,k) int8 · B (n,k)ᵀ int8: B panels of kLanes·nv
//   columns, A micro-tiles of kMR rows, k in runs of kU8S8FlushSteps quads
//   (C int32, TC: one run; micro_tile_u8 overloaded on C's type).
template <class Isa, class TC = int64_t>
void blocked_gemm_u8s8(TC* c, int64_t ldc, const int8_t* a, int64_t lda, const int8_t* b, int64_t ldb, int64_t m,
                       int64_t n, int64_t k) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) return fill_zero(c, ldc, m, n);
  if (m < Isa::kSmallM) return Isa::gemm_dots(c, ldc, a, lda, b, ldb, m, n, k);
  thread_local Scratch<uint8_t> a_buf;
  thread_local Scratch<int32_t> b_buf;
  thread_local Scratch<int64_t> corr_buf;
  constexpr int64_t lanes = Isa::kLanes;
  const int64_t quads = (k + 3) / 4, kq = 4 * quads;
  uint8_t* a8 = a_buf.get(static_cast<size_t>(round_up(m, Isa::kMR) * kq));
  int32_t* panels = b_buf.get(static_cast<size_t>(round_up(n, lanes) * quads));
  int64_t* corr = corr_buf.get(static_cast<size_t>(round_up(n, lanes)));
  Isa::pack_a_u8(a8, kq, a, lda, m, k);
  Isa::pack_b_s8(panels, corr, b, ldb, n, k);
  const int64_t flush = sizeof(TC) == 8 ? kU8S8FlushSteps : quads;
  for (int64_t j0 = 0; j0 < n; j0 += lanes * Isa::kMaxNV) {
    const int nv = Isa::panel_nv(j0, n);
    const int64_t cols = std::min<int64_t>(lanes * Isa::kMaxNV, n - j0);
    for (int64_t i0 = 0; i0 < m; i0 += Isa::kMR)
      for (int64_t q0 = 0; q0 < quads; q0 += flush) {
        const int64_t steps = std::min(flush, quads - q0), rows = std::min<int64_t>(Isa::kMR, m - i0);
        Isa::micro_tile_u8(nv, c + i0 * ldc + j0, ldc, a8 + i0 * kq + 4 * q0, kq, panels + j0 * quads + q0 * nv * lanes,
                           steps, rows, cols, q0 == 0, corr + j0);
      }
  }
}

}  // namespace zimt::kernels::detail
