// The scalar row kernels of the plain 2x2 max pool and the choice among the
// implementations (max_2x2.hpp).
#include "zimt/layers/max_2x2.hpp"

#include <algorithm>

#include "row_kernel_choice.hpp"

namespace zimt::max_2x2 {

namespace {

bool always() { return true; }

// X: int8_t or int16_t
template <class X>
void forward_rows(X* __restrict y, const X* __restrict x, int64_t width, int64_t pairs) {
  const int64_t count = width / 2;
  for (int64_t p = 0; p < pairs; ++p) {
    const X* r0 = x + 2 * p * width;
    const X* r1 = r0 + width;
    for (int64_t w = 0; w < count; ++w)
      y[p * count + w] = std::max(std::max(r0[2 * w], r0[2 * w + 1]), std::max(r1[2 * w], r1[2 * w + 1]));
  }
}

template <class X>
void backward_rows(int16_t* __restrict dx, const int16_t* __restrict dy, const X* __restrict x, int64_t width,
                   int64_t pairs, bool positive_only) {
  const int64_t count = width / 2;
  for (int64_t p = 0; p < pairs; ++p) {
    const X* r0 = x + 2 * p * width;
    const X* r1 = r0 + width;
    int16_t* d0 = dx + 2 * p * width;
    int16_t* d1 = d0 + width;
    for (int64_t w = 0; w < count; ++w) {
      const X a = r0[2 * w], b = r0[2 * w + 1], c = r1[2 * w], d = r1[2 * w + 1];
      const int16_t e = dy[p * count + w];
      // first maximum: a unless a later one is strictly larger than all before it
      const X m = std::max(std::max(a, b), std::max(c, d));
      const bool pass = !positive_only || m > 0;
      const bool pick_a = a == m;
      const bool pick_b = !pick_a && b == m;
      const bool pick_c = !pick_a && !pick_b && c == m;
      const bool pick_d = pass && !pick_a && !pick_b && !pick_c;
      d0[2 * w] = pass && pick_a ? e : int16_t{0};
      d0[2 * w + 1] = pass && pick_b ? e : int16_t{0};
      d1[2 * w] = pass && pick_c ? e : int16_t{0};
      d1[2 * w + 1] = pick_d ? e : int16_t{0};
    }
  }
}

}  // namespace

namespace detail {
constinit const RowKernels scalar_row_kernels{
    "scalar", &always, &forward_rows<int8_t>, &forward_rows<int16_t>, &backward_rows<int8_t>, &backward_rows<int16_t>};
}  // namespace detail

using Choice = zimt::detail::RowKernelChoice<RowKernels, detail::avx512_row_kernels, detail::scalar_row_kernels>;
std::span<const RowKernels> row_kernels() { return Choice::all(); }
const RowKernels& chosen_row_kernels() { return Choice::chosen(); }

}  // namespace zimt::max_2x2
