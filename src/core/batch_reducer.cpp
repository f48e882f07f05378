#include "zimt/batch_reducer.hpp"

#include <algorithm>

namespace zimt {

BatchExtent batch_extent(const int32_t* sample_exp, int64_t batch) {
  BatchExtent e;
  e.samples = batch;
  for (int64_t n = 0; n < batch; ++n) {
    e.min_exp = std::min(e.min_exp, sample_exp[n]);
    e.max_exp = std::max(e.max_exp, sample_exp[n]);
  }
  return e;
}

namespace {

class SingleProcess final : public BatchReducer {
 public:
  BatchExtent combine(const BatchExtent& local) const override { return local; }
  void sum(int64_t*, int64_t) const override {}
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void gather(int32_t*, std::span<const int64_t>) const override {}
};

}  // namespace

const BatchReducer& single_process() {
  static const SingleProcess alone;
  return alone;
}

}  // namespace zimt
