#pragma once
// Samples grouped for a weight gradient's batch sum (conv2d, linear): the
// samples that join the sum with the same align_batch shift s >= 0
// (quant.hpp) form a run, whose contribution is one GEMM over the run's
// samples shifted once, 2^s·Σ_n p_n = Σ_n 2^s·p_n exactly. A negative shift
// rounds each sample's sum, so such a sample is a run of its own.
// Consecutive runs then form a group, one GEMM with a k segment per run
// (kernels::gemm_nt_segmented): the total is read and written once per
// group instead of once per run.
#include <cstdint>
#include <span>

#include "zimt/kernels/gemm.hpp"
#include "zimt/quant.hpp"

namespace zimt::detail {

// order[0..batch): the samples sorted by shift (stable: equal shifts keep
// sample order); run r is order[begin[r] .. begin[r+1]), at most max_run
// samples long. begin has room for batch + 1 entries. Returns the number of
// runs. Allocates nothing.
int64_t sort_into_runs(const int32_t* shift, int64_t batch, int64_t max_run, int64_t* order, int64_t* begin);

// A shift that a GEMM applies itself (kernels::gemm_nt_segmented).
constexpr bool in_gemm_range(int32_t shift) { return shift >= 0 && shift <= kernels::kMaxGemmShift; }

// The runs cut into GEMM groups: group g is runs first_run[g] ..
// first_run[g + 1] (first_run has room for runs + 1 entries), consecutive
// runs with shifts in range and at most max_samples samples together, or a
// single run with a shift out of range. segment[r] is run r's k segment in
// its group's GEMM, P columns per sample: it starts where the previous run's
// ends (0 for a group's first), and a run followed by another in its group
// ends on an even column (one zero column after its samples when their
// columns are odd; kernels::gemm_nt_segmented). Returns the number of
// groups. Allocates nothing.
int64_t group_runs(const int32_t* shift, const int64_t* order, const int64_t* begin, int64_t runs, int64_t P,
                   int64_t max_samples, int64_t* first_run, kernels::KSegment* segment);

// Joins one group's product onto a (rows, cols) total with row stride ld:
// gemm(c, ldc, segments, accumulate) writes Σ_s 2^shift_s·product_s into c,
// or adds it there (kernels::gemm_nt_segmented). A group in range goes
// straight onto the total, the first one storing, so the total needs no
// clearing. A run out of range is a group of one segment: a negative shift
// rounds the run's whole sum (one sample: sort_into_runs), so its product is
// formed first (in the total for the first group, else in `partial` (rows,
// cols)) and then rounded (or, above the range, shifted) onto the total.
template <class Gemm>
void join_group(int64_t* total, int64_t ld, int64_t* partial, int64_t rows, int64_t cols,
                std::span<const kernels::KSegment> segments, bool first, const Gemm& gemm) {
  const int32_t shift = segments.front().shift;
  if (segments.size() > 1 || in_gemm_range(shift)) return gemm(total, ld, segments, !first);
  const kernels::KSegment plain{segments.front().end, 0};
  if (first) {
    gemm(total, ld, std::span(&plain, 1), false);
    for (int64_t r = 0; r < rows; ++r) shift_all(total + r * ld, cols, shift);
    return;
  }
  gemm(partial, cols, std::span(&plain, 1), false);
  for (int64_t r = 0; r < rows; ++r) add_shifted(total + r * ld, partial + r * cols, cols, shift);
}

}  // namespace zimt::detail
