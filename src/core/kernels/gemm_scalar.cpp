// Portable reference kernels: plain int64 accumulation (exact for any
// element values, k < 2^33).
#include "zimt/kernels/gemm.hpp"

namespace zimt::kernels::scalar {

int64_t dot(const int8_t* a, const int16_t* b, int64_t k) {
  int64_t s = 0;
  for (int64_t i = 0; i < k; ++i) s += int64_t{a[i]} * b[i];
  return s;
}

int64_t dot(const int16_t* a, const int16_t* b, int64_t k) {
  int64_t s = 0;
  for (int64_t i = 0; i < k; ++i) s += int64_t{a[i]} * b[i];
  return s;
}

}  // namespace zimt::kernels::scalar
