// The AVX-512 VNNI kernels of conv2d_pooled_backward (conv2d_pooled.hpp):
// each row pair's windows routed in registers (max_2x2_avx512.hpp) into a
// plane of 32-lane rows (lanes past OW and an odd last row zero), then per
// input channel one int32 accumulator (16 lanes) per tap: each row of
// errors meets the input row that tap (kh, kw) reads, xp + (c·PH + oh +
// kh)·PW + kw, in one vpdpwssd; the lanes are summed in int64 at the end of
// the channel.
// GCC 12 reports its own _mm512_undefined_* placeholders (self-initialised
// on purpose) inside the convert intrinsics as (maybe-)uninitialized.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include "max_2x2_avx512.hpp"

#include "zimt/layers/conv2d_pooled.hpp"

#define ZIMT_AVX512VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))

namespace zimt::conv2d_pooled {

namespace {

constexpr int64_t kLanes = 32;     // int16 errors per row of the plane
constexpr int64_t kMaxK = 7;       // the kernel sizes this kernel takes
constexpr int64_t kMaxRows = 255;  // 255 rows of 2^23 per lane stay below 2^31

bool available() {
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
}

bool handles(const TapGeometry& g, bool int8_inputs) {
  return int8_inputs && g.stride == 1 && g.OW <= kLanes && g.OH <= kMaxRows && g.k <= kMaxK;
}

ZIMT_AVX512VNNI inline int64_t lane_sum(__m512i a) {
  const __m512i lo = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(a));
  const __m512i hi = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(a, 1));
  return _mm512_reduce_add_epi64(_mm512_add_epi64(lo, hi));
}

// KS: the kernel size when fixed at compile time (the shipped CNN's 3),
// else 0 (g.k). Y: the pool input's type.
template <int64_t KS, class Y>
ZIMT_AVX512VNNI int64_t pooled_sums_k(int64_t* s, const int16_t* e, const Y* y, const int16_t* xp, const TapGeometry& g,
                                      int16_t* plane) {
  namespace m2 = max_2x2::detail;
  const int64_t k = KS != 0 ? KS : g.k, QH = g.OH / 2, QW = g.OW / 2;
  const __mmask32 lanes = m2::input_lanes(QW);
  const __m512i ones = _mm512_set1_epi16(1);
  __m512i sum = _mm512_setzero_si512();
  for (int64_t qh = 0; qh < QH; ++qh) {
    const Y* r0 = y + 2 * qh * g.OW;
    const m2::RoutedRows d = m2::route_windows(m2::load_row(r0, lanes), m2::load_row(r0 + g.OW, lanes),
                                               m2::window_errors(e + qh * QW, QW), lanes, true);
    _mm512_storeu_si512(plane + 2 * qh * kLanes, d.d0);
    _mm512_storeu_si512(plane + (2 * qh + 1) * kLanes, d.d1);
    sum = _mm512_add_epi32(sum, _mm512_add_epi32(_mm512_madd_epi16(d.d0, ones), _mm512_madd_epi16(d.d1, ones)));
  }
  const int64_t rows = 2 * QH;  // an odd last row takes no error
  for (int64_t c = 0; c < g.C; ++c) {
    __m512i acc[KS != 0 ? KS * KS : kMaxK * kMaxK];
    for (int64_t t = 0; t < k * k; ++t) acc[t] = _mm512_setzero_si512();
    for (int64_t oh = 0; oh < rows; ++oh) {
      const __m512i d = _mm512_loadu_si512(plane + oh * kLanes);
      if (_mm512_test_epi16_mask(d, d) == 0) continue;
      const int16_t* row = xp + (c * g.PH + oh) * g.PW;
      for (int64_t kh = 0; kh < k; ++kh)
        for (int64_t kw = 0; kw < k; ++kw)
          acc[kh * k + kw] = _mm512_dpwssd_epi32(acc[kh * k + kw], d, _mm512_loadu_si512(row + kh * g.PW + kw));
    }
    for (int64_t t = 0; t < k * k; ++t) s[c * k * k + t] = lane_sum(acc[t]);
  }
  return lane_sum(sum);
}

template <class Y>
int64_t pooled_sums(int64_t* s, const int16_t* e, const Y* y, const int16_t* xp, const TapGeometry& g, int16_t* plane) {
  return g.k == 3 ? pooled_sums_k<3>(s, e, y, xp, g, plane) : pooled_sums_k<0>(s, e, y, xp, g, plane);
}

}  // namespace

namespace detail {
constinit const PooledSumKernels avx512_pooled_sums{"avx512", &available, &handles, &pooled_sums<int8_t>,
                                                    &pooled_sums<int16_t>};
}  // namespace detail

}  // namespace zimt::conv2d_pooled
