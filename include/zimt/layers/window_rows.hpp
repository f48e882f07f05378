#pragma once
// One output row of the general max pool (pool.hpp; any kernel, stride and
// padding <= kernel / 2): its windows read `rows` consecutive input rows of
// a channel, and window ow the columns ow·stride − padding + kw (kw <
// kernel) that lie in the row. Padded positions never win (every window
// holds at least one input). Ties go to the FIRST maximum in (row, column)
// order, as in every max pool here.
//
// Implementations, chosen once (first use):
//   avx512: AVX-512 BW, a row of up to 32 inputs in one zmm (int8 sign-
//           extended to int16): the rows' maximum column by column, then
//           each kw's column of every window moved into its window's lane by
//           one permute; wider rows go to the scalar loops. Used when gemm_nt
//           runs its avx512vnni kernels, so that ZIMT_KERNEL
//           (kernels/gemm.hpp) switches both
//   scalar: plain loops (the reference)
// Both are selections of int8/int16 values, so they agree bit for bit
// (tests/core/test_window_rows.cpp checks it on random data, ties and the
// extremes).
#include <cstdint>
#include <span>

namespace zimt::window_rows {

// The window columns of a row of W inputs: OW windows.
struct Columns {
  int64_t W, OW, kernel, stride, padding;
};

// x (rows, W) -> y (OW): y[ow] = the maximum of window ow;
// x (rows, W) -> at (OW): at[ow] = r·W + iw of window ow's first maximum.
struct RowKernels {
  const char* name;
  bool (*available)();
  void (*max_i8)(int8_t* y, const int8_t* x, int64_t rows, const Columns& c);
  void (*max_i16)(int16_t* y, const int16_t* x, int64_t rows, const Columns& c);
  void (*first_max_i8)(int32_t* at, const int8_t* x, int64_t rows, const Columns& c);
  void (*first_max_i16)(int32_t* at, const int16_t* x, int64_t rows, const Columns& c);
};

namespace detail {
extern const RowKernels avx512_row_kernels;  // window_rows_avx512.cpp
extern const RowKernels scalar_row_kernels;  // window_rows.cpp
}  // namespace detail

// Every implementation, the scalar reference last.
std::span<const RowKernels> row_kernels();
// The one the pool uses.
const RowKernels& chosen_row_kernels();

}  // namespace zimt::window_rows
