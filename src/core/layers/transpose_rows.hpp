#pragma once
// A transpose shared by the layers' backward passes (linear's Wᵀ and errors,
// conv2d's Wᵀ): rows gathered by an accessor, written as columns.
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cstdint>

namespace zimt::detail {

// dst (cols, count) = the rows row(0..count) (cols values each) as columns.
// In tiles of 32 x 32: a tile's reads and writes each stay within 32 lines,
// where a whole row of columns at once would write lines a power-of-two
// stride apart that evict each other (20x slower on a 512 x 4,608 matrix).
// The threads share bands of columns.
template <class T, class Row>
void transpose_rows(T* dst, int64_t count, int64_t cols, const Row& row) {
  constexpr int64_t kTile = 32;
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, cols, 2 * kTile), [&](const tbb::blocked_range<int64_t>& r) {
    const T* src[kTile];
    for (int64_t j0 = 0; j0 < count; j0 += kTile) {
      const int64_t rows = std::min(kTile, count - j0);
      for (int64_t j = 0; j < rows; ++j) src[j] = row(j0 + j);
      for (int64_t c0 = r.begin(); c0 < r.end(); c0 += kTile) {
        const int64_t c1 = std::min(r.end(), c0 + kTile);
        for (int64_t c = c0; c < c1; ++c)
          for (int64_t j = 0; j < rows; ++j) dst[c * count + j0 + j] = src[j][c];
      }
    }
  });
}

}  // namespace zimt::detail
