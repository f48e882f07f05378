#include "sample_runs.hpp"

namespace zimt::detail {

int64_t sort_into_runs(const int32_t* shift, int64_t batch, int64_t max_run, int64_t* order, int64_t* begin) {
  // Insertion sort: stable, and unlike std::stable_sort it needs no buffer
  // (batches are small).
  for (int64_t j = 0; j < batch; ++j) {
    int64_t k = j;
    for (; k > 0 && shift[order[k - 1]] > shift[j]; --k) order[k] = order[k - 1];
    order[k] = j;
  }
  int64_t runs = 0;
  for (int64_t j = 0; j < batch; ++j) {
    const int32_t s = shift[order[j]];
    if (j == 0 || s < 0 || s != shift[order[j - 1]] || j - begin[runs - 1] == max_run) begin[runs++] = j;
  }
  begin[runs] = batch;
  return runs;
}

int64_t group_runs(const int32_t* shift, const int64_t* order, const int64_t* begin, int64_t runs, int64_t P,
                   int64_t max_samples, int64_t* first_run, kernels::KSegment* segment) {
  int64_t groups = 0;
  for (int64_t r = 0; r < runs; ++r) {
    const int32_t s = shift[order[begin[r]]];
    const bool joins = groups > 0 && in_gemm_range(s) && in_gemm_range(segment[r - 1].shift) &&
                       begin[r + 1] - begin[first_run[groups - 1]] <= max_samples;
    if (!joins) first_run[groups++] = r;
    if (joins && segment[r - 1].end % 2 != 0) ++segment[r - 1].end;
    segment[r] = {(joins ? segment[r - 1].end : 0) + (begin[r + 1] - begin[r]) * P, s};
  }
  first_run[groups] = runs;
  return groups;
}

}  // namespace zimt::detail
