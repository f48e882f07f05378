// A batch split across processes (zimt/batch_reducer.hpp): align_batch on a
// process's share must give its samples the shifts, and the tensor the
// exponent, that the whole batch gives them in one process.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "zimt/batch_reducer.hpp"
#include "zimt/quant.hpp"

using namespace zimt;

namespace {

// One share of a two-process split, the other share's extent known in advance.
class TwoShares final : public BatchReducer {
 public:
  explicit TwoShares(BatchExtent other) : other_(other) {}
  BatchExtent combine(const BatchExtent& local) const override {
    return {local.samples + other_.samples, std::min(local.min_exp, other_.min_exp),
            std::max(local.max_exp, other_.max_exp)};
  }
  // align_batch only combines extents
  void sum(int64_t*, int64_t) const override {}
  int rank() const override { return 0; }
  int size() const override { return 2; }
  void gather(int32_t*, std::span<const int64_t>) const override {}

 private:
  BatchExtent other_;
};

}  // namespace

TEST_CASE("align_batch of each share of a split batch equals the whole batch's alignment") {
  // Exponents spread by 95 > the shift limit 62 - 30 - ceil_log2(7) = 29:
  // the exponent is raised, and the limit depends on the whole batch's size.
  const std::vector<int32_t> exps{-40, -3, -20, 5, -90, -12, 0};
  const int64_t batch = static_cast<int64_t>(exps.size());
  const BatchAlignment whole = align_batch(exps.data(), batch, 30);
  REQUIRE(whole.exp == 5 - 29);
  for (int64_t k = 0; k <= batch; ++k) {
    CAPTURE(k);
    const BatchAlignment first = align_batch(exps.data(), k, 30, TwoShares(batch_extent(exps.data() + k, batch - k)));
    const BatchAlignment second = align_batch(exps.data() + k, batch - k, 30, TwoShares(batch_extent(exps.data(), k)));
    CHECK(first.exp == whole.exp);
    CHECK(second.exp == whole.exp);
    std::vector<int32_t> shifts = first.shift;
    shifts.insert(shifts.end(), second.shift.begin(), second.shift.end());
    CHECK(shifts == whole.shift);
  }
}

TEST_CASE("batch_extent: count and exponent range; no sample is neutral for combining") {
  const std::vector<int32_t> exps{-7, 3, -12, 0};
  const BatchExtent e = batch_extent(exps.data(), 4);
  CHECK(e.samples == 4);
  CHECK(e.min_exp == -12);
  CHECK(e.max_exp == 3);
  const BatchExtent none = batch_extent(exps.data(), 0);
  CHECK(TwoShares(none).combine(e).min_exp == -12);
  CHECK(TwoShares(none).combine(e).max_exp == 3);
  CHECK(TwoShares(e).combine(none).samples == 4);
}

TEST_CASE("single_process: the batch is whole, reductions are the identity") {
  const BatchExtent e{5, -3, 9};
  const BatchExtent same = single_process().combine(e);
  CHECK(same.samples == 5);
  CHECK(same.min_exp == -3);
  CHECK(same.max_exp == 9);
  std::vector<int64_t> v{1, -2, 3};
  single_process().sum(v.data(), 3);
  CHECK(v == std::vector<int64_t>{1, -2, 3});
}
