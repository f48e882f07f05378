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

}  // namespace zimt::detail
