#pragma once
// The plain 2x2, stride 2, unpadded max pool (pool.hpp) on one pair of input
// rows: its windows tile the rows, so forward and backward are row loops.
// Ties go to the FIRST maximum in (kh, kw) order, as in every max pool here.
//
// Implementations, chosen once (first use):
//   avx512: AVX-512 BW, 16 windows per zmm (int8 rows sign-extended to
//           int16); used when gemm_nt runs its avx512vnni kernels, so that
//           ZIMT_KERNEL (kernels/gemm.hpp) switches both
//   scalar: plain loops (the reference)
// Both are selections and copies of int8/int16 values, so they agree bit for
// bit (tests/core/test_pool_rows.cpp checks it on random data, ties and the
// int16 extremes).
#include <cstdint>
#include <span>

namespace zimt::max_2x2 {

// x: rows of `width` values, row pair p = rows 2p and 2p + 1 for p < pairs,
// count = width / 2 windows each (an odd last column is in none):
//   forward:  y (pairs, count), y[p][w] = the max of window w of pair p;
//   backward: dy (pairs, count) -> dx (the rows of x): window w's dy[p][w]
//             at its first maximum, 0 at its other three inputs; with
//             positive_only, dy only where that maximum is > 0 (a ReLU's
//             backward folded in, when the rows are the ReLU's outputs: its
//             mask is 0 where they are). An odd last column is not written.
// One call takes every row pair of a sample whose planes have an even
// height (the planes' row pairs then follow each other at stride 2·width).
struct RowKernels {
  const char* name;
  bool (*available)();
  void (*forward_i8)(int8_t* y, const int8_t* x, int64_t width, int64_t pairs);
  void (*forward_i16)(int16_t* y, const int16_t* x, int64_t width, int64_t pairs);
  void (*backward_i8)(int16_t* dx, const int16_t* dy, const int8_t* x, int64_t width, int64_t pairs,
                      bool positive_only);
  void (*backward_i16)(int16_t* dx, const int16_t* dy, const int16_t* x, int64_t width, int64_t pairs,
                       bool positive_only);
};

namespace detail {
extern const RowKernels avx512_row_kernels;  // max_2x2_avx512.cpp
extern const RowKernels scalar_row_kernels;  // max_2x2.cpp
}  // namespace detail

// Every implementation, the scalar reference last.
std::span<const RowKernels> row_kernels();
// The one the pool uses.
const RowKernels& chosen_row_kernels();

}  // namespace zimt::max_2x2
