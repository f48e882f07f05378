#pragma once
// Samples grouped for a weight gradient's batch sum (conv2d, linear): the
// samples that join the sum with the same align_batch shift s >= 0
// (quant.hpp) form a run, whose contribution is one GEMM over the run's
// samples shifted once, 2^s·Σ_n p_n = Σ_n 2^s·p_n exactly. A negative shift
// rounds each sample's sum, so such a sample is a run of its own.
#include <cstdint>

namespace zimt::detail {

// order[0..batch): the samples sorted by shift (stable: equal shifts keep
// sample order); run r is order[begin[r] .. begin[r+1]), at most max_run
// samples long. begin has room for batch + 1 entries. Returns the number of
// runs. Allocates nothing.
int64_t sort_into_runs(const int32_t* shift, int64_t batch, int64_t max_run, int64_t* order, int64_t* begin);

}  // namespace zimt::detail
