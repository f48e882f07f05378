#include "zimt/kernels/max_abs.hpp"

#include <algorithm>

namespace zimt::kernels {

namespace {

// Max and min separately (the compiler vectorises both), then the larger
// magnitude of the two.
template <class T>
int64_t max_abs_of(const T* x, int64_t count) {
  T hi = 0, lo = 0;
  for (int64_t i = 0; i < count; ++i) {
    hi = std::max(hi, x[i]);
    lo = std::min(lo, x[i]);
  }
  return std::max<int64_t>(hi, -int64_t{lo});
}

}  // namespace

int64_t max_abs(const int8_t* x, int64_t count) { return max_abs_of(x, count); }
int64_t max_abs(const int16_t* x, int64_t count) { return max_abs_of(x, count); }
int64_t max_abs(const int32_t* x, int64_t count) { return max_abs_of(x, count); }

}  // namespace zimt::kernels
