#pragma once
// Samples grouped for a weight gradient's batch sum (conv2d, linear): the
// samples that join the sum with the same align_batch shift s >= 0
// (quant.hpp) form a run, whose contribution is one GEMM over the run's
// samples shifted once, 2^s·Σ_n p_n = Σ_n 2^s·p_n exactly. A negative shift
// rounds each sample's sum, so such a sample is a run of its own.
#include <cstdint>

#include "zimt/kernels/gemm.hpp"
#include "zimt/quant.hpp"

namespace zimt::detail {

// order[0..batch): the samples sorted by shift (stable: equal shifts keep
// sample order); run r is order[begin[r] .. begin[r+1]), at most max_run
// samples long. begin has room for batch + 1 entries. Returns the number of
// runs. Allocates nothing.
int64_t sort_into_runs(const int32_t* shift, int64_t batch, int64_t max_run, int64_t* order, int64_t* begin);

// Joins one run's product onto a (rows, cols) total with row stride ld, on
// the run's shift: gemm(c, ldc, s, accumulate) writes 2^s·product into c, or
// adds it there (kernels::gemm_nt_shifted). A run with a shift in [0,
// kMaxGemmShift] goes straight onto the total, the first one storing, so the
// total needs no clearing. A negative shift rounds the run's whole sum, so
// its product is formed first (in the total for the first run, else in
// `partial` (rows, cols)) and then rounded onto the total.
template <class Gemm>
void join_run(int64_t* total, int64_t ld, int64_t* partial, int64_t rows, int64_t cols, int32_t shift, bool first,
              const Gemm& gemm) {
  if (shift >= 0 && shift <= kernels::kMaxGemmShift) return gemm(total, ld, static_cast<int>(shift), !first);
  if (first) {
    gemm(total, ld, 0, false);
    for (int64_t r = 0; r < rows; ++r) shift_all(total + r * ld, cols, shift);
    return;
  }
  gemm(partial, cols, 0, false);
  for (int64_t r = 0; r < rows; ++r) add_shifted(total + r * ld, partial + r * cols, cols, shift);
}

}  // namespace zimt::detail
