// AVX-512 BW row kernels of the plain 2x2 max pool (max_2x2.hpp) on the
// window rules of max_2x2_avx512.hpp:
//   forward:    the low int16 (resp. int8) of each word, one lane per window;
//   backward:   the routed errors of both rows stored under the input lanes.
// GCC 12 reports its own _mm512_undefined_* placeholders (self-initialised
// on purpose) inside the convert intrinsics as (maybe-)uninitialized.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include "max_2x2_avx512.hpp"

#include "zimt/layers/max_2x2.hpp"

namespace zimt::max_2x2 {

namespace {

using detail::input_lanes;
using detail::kWindows;
using detail::load_row;
using detail::window_lanes;

bool available() { return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw"); }

ZIMT_AVX512BW inline void store_max(int16_t* y, __mmask16 k, __m512i m) { _mm512_mask_cvtepi32_storeu_epi16(y, k, m); }
ZIMT_AVX512BW inline void store_max(int8_t* y, __mmask16 k, __m512i m) { _mm512_mask_cvtepi32_storeu_epi8(y, k, m); }

template <class X>
ZIMT_AVX512BW void forward_rows(X* y, const X* x, int64_t width, int64_t pairs) {
  const int64_t count = width / 2;
  for (int64_t p = 0; p < pairs; ++p) {
    const X* r0 = x + 2 * p * width;
    const X* r1 = r0 + width;
    for (int64_t w = 0; w < count; w += kWindows) {
      const __mmask32 lanes = input_lanes(count - w);
      const __m512i m = detail::window_max(load_row(r0 + 2 * w, lanes), load_row(r1 + 2 * w, lanes));
      store_max(y + p * count + w, window_lanes(count - w), m);  // the low half of each word
    }
  }
}

template <class X>
ZIMT_AVX512BW void backward_rows(int16_t* dx, const int16_t* dy, const X* x, int64_t width, int64_t pairs,
                                 bool positive_only) {
  const int64_t count = width / 2;
  for (int64_t p = 0; p < pairs; ++p) {
    const X* r0 = x + 2 * p * width;
    const X* r1 = r0 + width;
    int16_t* d0 = dx + 2 * p * width;
    int16_t* d1 = d0 + width;
    for (int64_t w = 0; w < count; w += kWindows) {
      const __mmask32 lanes = input_lanes(count - w);
      const detail::RoutedRows d =
          detail::route_windows(load_row(r0 + 2 * w, lanes), load_row(r1 + 2 * w, lanes),
                                detail::window_errors(dy + p * count + w, count - w), lanes, positive_only);
      _mm512_mask_storeu_epi16(d0 + 2 * w, lanes, d.d0);
      _mm512_mask_storeu_epi16(d1 + 2 * w, lanes, d.d1);
    }
  }
}

}  // namespace

namespace detail {
constinit const RowKernels avx512_row_kernels{"avx512",
                                              &available,
                                              &forward_rows<int8_t>,
                                              &forward_rows<int16_t>,
                                              &backward_rows<int8_t>,
                                              &backward_rows<int16_t>};
}  // namespace detail

}  // namespace zimt::max_2x2
