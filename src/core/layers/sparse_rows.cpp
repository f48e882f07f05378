// The scalar reference of the sparse row products (sparse_rows.hpp) and the
// choice among the implementations.
#include "zimt/layers/sparse_rows.hpp"

#include "row_kernel_choice.hpp"

namespace zimt::sparse_rows {

namespace {

bool always() { return true; }

void add_sums_scalar(int64_t* s, const int16_t* a, int64_t m, int64_t P, const int16_t* rows, int64_t K, int32_t*,
                     int shift) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t kk = 0; kk < K; ++kk) {
      int64_t sum = 0;
      for (int64_t p = 0; p < P; ++p) sum += int64_t{a[i * P + p]} * rows[p * K + kk];
      s[i * K + kk] =
          static_cast<int64_t>(static_cast<uint64_t>(s[i * K + kk]) + (static_cast<uint64_t>(sum) << shift));
    }
}

}  // namespace

namespace detail {
constinit const Kernels scalar_kernels{"scalar", &always, &add_sums_scalar};
}  // namespace detail

using Choice = zimt::detail::RowKernelChoice<Kernels, detail::avx512_kernels, detail::scalar_kernels>;
std::span<const Kernels> kernels() { return Choice::all(); }
const Kernels& chosen() { return Choice::chosen(); }

}  // namespace zimt::sparse_rows
