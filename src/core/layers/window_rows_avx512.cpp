// AVX-512 BW window-row kernels of the general max pool (window_rows.hpp).
// One zmm holds a row of up to 32 inputs as int16 lanes (int8 sign-extended
// on load), and the result has one lane per window:
//   tap kw:    lane ow holds the column index ow·stride − padding + kw and
//              whether it lies in the row; a permute by those indices moves
//              each window's column kw into the window's lane;
//   max:       the rows' maximum column by column, then the maximum of the
//              taps that lie in the row;
//   first max: rows in order, taps in order, a lane taking a tap's value and
//              index r·W + iw when it has none yet or the value is strictly
//              larger (so the first maximum stays).
// Rows wider than 32 inputs (or more than 32 windows) go to the scalar loops.
// GCC 12 reports its own _mm512_undefined_* placeholders (self-initialised
// on purpose) inside the convert intrinsics as (maybe-)uninitialized.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <cstdint>
#include <limits>

#include "zimt/layers/window_rows.hpp"

#define ZIMT_AVX512BW __attribute__((target("avx512f,avx512bw,avx512vl")))

namespace zimt::window_rows {

namespace {

constexpr int64_t kLanes = 32;  // int16 lanes per zmm

bool available() { return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw"); }

inline __mmask32 first_lanes(int64_t count) { return count >= kLanes ? ~__mmask32{0} : (__mmask32{1} << count) - 1; }

ZIMT_AVX512BW inline __m512i load_row(const int16_t* p, __mmask32 lanes) { return _mm512_maskz_loadu_epi16(lanes, p); }
ZIMT_AVX512BW inline __m512i load_row(const int8_t* p, __mmask32 lanes) {
  return _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(lanes, p));
}
ZIMT_AVX512BW inline void store_row(int16_t* p, __mmask32 lanes, __m512i v) { _mm512_mask_storeu_epi16(p, lanes, v); }
ZIMT_AVX512BW inline void store_row(int8_t* p, __mmask32 lanes, __m512i v) {
  _mm256_mask_storeu_epi8(p, lanes, _mm512_cvtepi16_epi8(v));
}

// Column kw of every window: its index per lane, and the windows (lanes <
// OW) where it lies in the row.
struct Tap {
  __m512i index;
  __mmask32 inside;
};
ZIMT_AVX512BW inline Tap tap(const Columns& c, int64_t kw) {
  const __m512i lane = _mm512_set_epi16(31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12,
                                        11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
  const __m512i index = _mm512_add_epi16(_mm512_mullo_epi16(lane, _mm512_set1_epi16(static_cast<int16_t>(c.stride))),
                                         _mm512_set1_epi16(static_cast<int16_t>(kw - c.padding)));
  const __mmask32 inside = first_lanes(c.OW) & _mm512_cmpge_epi16_mask(index, _mm512_setzero_si512()) &
                           _mm512_cmplt_epi16_mask(index, _mm512_set1_epi16(static_cast<int16_t>(c.W)));
  return {index, inside};
}

// A row of one zmm, with every index r·W + iw an int16.
bool fits(const Columns& c, int64_t rows) {
  return c.W <= kLanes && c.OW <= kLanes && rows * c.W <= std::numeric_limits<int16_t>::max();
}

template <class X>
ZIMT_AVX512BW void window_max(X* y, const X* x, int64_t rows, const Columns& c) {
  if (!fits(c, rows)) {
    if constexpr (sizeof(X) == 1)
      return detail::scalar_row_kernels.max_i8(y, x, rows, c);
    else
      return detail::scalar_row_kernels.max_i16(y, x, rows, c);
  }
  const __mmask32 row_lanes = first_lanes(c.W);
  __m512i column = load_row(x, row_lanes);
  for (int64_t r = 1; r < rows; ++r) column = _mm512_max_epi16(column, load_row(x + r * c.W, row_lanes));
  __m512i best = _mm512_set1_epi16(std::numeric_limits<int16_t>::min());  // below every int8/int16 value but itself
  for (int64_t kw = 0; kw < c.kernel; ++kw) {
    const Tap t = tap(c, kw);
    best = _mm512_mask_max_epi16(best, t.inside, best, _mm512_permutexvar_epi16(t.index, column));
  }
  store_row(y, first_lanes(c.OW), best);
}

template <class X>
ZIMT_AVX512BW void window_first_max(int32_t* at, const X* x, int64_t rows, const Columns& c) {
  if (!fits(c, rows)) {
    if constexpr (sizeof(X) == 1)
      return detail::scalar_row_kernels.first_max_i8(at, x, rows, c);
    else
      return detail::scalar_row_kernels.first_max_i16(at, x, rows, c);
  }
  const __mmask32 row_lanes = first_lanes(c.W);
  __m512i best = _mm512_setzero_si512(), best_at = _mm512_setzero_si512();
  __mmask32 found = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const __m512i row = load_row(x + r * c.W, row_lanes);
    const __m512i row_start = _mm512_set1_epi16(static_cast<int16_t>(r * c.W));
    for (int64_t kw = 0; kw < c.kernel; ++kw) {
      const Tap t = tap(c, kw);
      const __m512i v = _mm512_permutexvar_epi16(t.index, row);
      const __mmask32 take = t.inside & (~found | _mm512_cmpgt_epi16_mask(v, best));
      best = _mm512_mask_mov_epi16(best, take, v);
      best_at = _mm512_mask_mov_epi16(best_at, take, _mm512_add_epi16(row_start, t.index));
      found |= t.inside;
    }
  }
  const __mmask32 windows = first_lanes(c.OW);
  _mm512_mask_storeu_epi32(at, static_cast<__mmask16>(windows), _mm512_cvtepi16_epi32(_mm512_castsi512_si256(best_at)));
  _mm512_mask_storeu_epi32(at + 16, static_cast<__mmask16>(windows >> 16),
                           _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(best_at, 1)));
}

}  // namespace

namespace detail {
constinit const RowKernels avx512_row_kernels{"avx512",
                                              &available,
                                              &window_max<int8_t>,
                                              &window_max<int16_t>,
                                              &window_first_max<int8_t>,
                                              &window_first_max<int16_t>};
}  // namespace detail

}  // namespace zimt::window_rows
