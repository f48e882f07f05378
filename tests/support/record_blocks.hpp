#pragma once
// A BlockCounts sink for tests: writes each block's counts into d counts
// and notes, per block of category_block, how often it came, whether
// without counts, and whether its range was the block's.
#include "zimt/optim/zim.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace zimt::test {

class RecordBlocks final : public optim::BlockCounts {
 public:
  explicit RecordBlocks(size_t d)
      : counts(d, -1), calls(blocks(d), 0), without(calls.size(), 0), misplaced(calls.size(), 0) {}
  // Blocks are disjoint, so no two threads write one entry.
  void block(size_t begin, size_t size, const int32_t* x) override {
    const size_t b = std::min(begin / optim::category_block, calls.size() - 1);
    ++calls[b];
    without[b] = x == nullptr;
    misplaced[b] = begin % optim::category_block != 0 || size != std::min(optim::category_block, counts.size() - begin);
    for (size_t i = 0; i < size && begin + i < counts.size(); ++i) counts[begin + i] = x == nullptr ? 0 : x[i];
  }
  static size_t blocks(size_t d) { return (d + optim::category_block - 1) / optim::category_block; }

  std::vector<int32_t> counts;
  std::vector<int> calls, without, misplaced;
};

}  // namespace zimt::test
