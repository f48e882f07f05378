// The scalar reference of the sparse row products (sparse_rows.hpp) and the
// choice among the implementations.
#include "zimt/layers/sparse_rows.hpp"

#include <algorithm>

#include "row_kernel_choice.hpp"

namespace zimt::sparse_rows {

namespace {

bool always() { return true; }

void sums_scalar(int64_t* s, const int16_t* a, int64_t m, int64_t P, const int16_t* rows, int64_t K, int32_t*) {
  std::fill(s, s + m * K, int64_t{0});
  for (int64_t i = 0; i < m; ++i)
    for (int64_t p = 0; p < P; ++p) {
      const int64_t e = a[i * P + p];
      if (e == 0) continue;
      for (int64_t kk = 0; kk < K; ++kk) s[i * K + kk] += e * rows[p * K + kk];
    }
}

}  // namespace

namespace detail {
constinit const Kernels scalar_kernels{"scalar", &always, &sums_scalar};
}  // namespace detail

using Choice = zimt::detail::RowKernelChoice<Kernels, detail::avx512_kernels, detail::scalar_kernels>;
std::span<const Kernels> kernels() { return Choice::all(); }
const Kernels& chosen() { return Choice::chosen(); }

}  // namespace zimt::sparse_rows
