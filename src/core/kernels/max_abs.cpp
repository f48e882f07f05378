#include "zimt/kernels/max_abs.hpp"

#include "target_clones.hpp"

#include <algorithm>

namespace zimt::kernels {

namespace {

// Max and min separately (the compiler vectorises both), then the larger
// magnitude of the two. Inlined into each clone below, so that every
// instruction-set version vectorises it with its own instructions.
template <class T>
[[gnu::always_inline]] inline int64_t max_abs_of(const T* x, int64_t count) {
  T hi = 0, lo = 0;
  for (int64_t i = 0; i < count; ++i) {
    hi = std::max(hi, x[i]);
    lo = std::min(lo, x[i]);
  }
  return std::max<int64_t>(hi, -int64_t{lo});
}

}  // namespace

// One version per instruction set (target_clones.hpp): the layers scan every
// operand, which at baseline SSE2 costs ~1/5 of the GEMMs it decides about
// (conv2, measured).

ZIMT_CLONES int64_t max_abs(const int8_t* x, int64_t count) { return max_abs_of(x, count); }
ZIMT_CLONES int64_t max_abs(const int16_t* x, int64_t count) { return max_abs_of(x, count); }
ZIMT_CLONES int64_t max_abs(const int32_t* x, int64_t count) { return max_abs_of(x, count); }

}  // namespace zimt::kernels
