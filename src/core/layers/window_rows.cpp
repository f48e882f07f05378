// The scalar window-row kernels of the general max pool and the choice among
// the implementations (window_rows.hpp).
#include "zimt/layers/window_rows.hpp"

#include "row_kernel_choice.hpp"

namespace zimt::window_rows {

namespace {

bool always() { return true; }

// r·W + iw of window ow's first maximum in (row, column) order.
template <class X>
int64_t first_max(const X* x, int64_t rows, const Columns& c, int64_t ow) {
  int64_t at = -1;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t kw = 0; kw < c.kernel; ++kw) {
      const int64_t iw = ow * c.stride - c.padding + kw;
      if (iw < 0 || iw >= c.W) continue;
      if (at < 0 || x[r * c.W + iw] > x[at]) at = r * c.W + iw;
    }
  return at;
}

// X: int8_t or int16_t
template <class X>
void window_max(X* y, const X* x, int64_t rows, const Columns& c) {
  for (int64_t ow = 0; ow < c.OW; ++ow) y[ow] = x[first_max(x, rows, c, ow)];
}

template <class X>
void window_first_max(int32_t* at, const X* x, int64_t rows, const Columns& c) {
  for (int64_t ow = 0; ow < c.OW; ++ow) at[ow] = static_cast<int32_t>(first_max(x, rows, c, ow));
}

}  // namespace

namespace detail {
constinit const RowKernels scalar_row_kernels{"scalar",
                                              &always,
                                              &window_max<int8_t>,
                                              &window_max<int16_t>,
                                              &window_first_max<int8_t>,
                                              &window_first_max<int16_t>};
}  // namespace detail

using Choice = zimt::detail::RowKernelChoice<RowKernels, detail::avx512_row_kernels, detail::scalar_row_kernels>;
std::span<const RowKernels> row_kernels() { return Choice::all(); }
const RowKernels& chosen_row_kernels() { return Choice::chosen(); }

}  // namespace zimt::window_rows
