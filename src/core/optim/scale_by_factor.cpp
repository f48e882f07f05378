// GCC 12 reports its own _mm512_undefined_* placeholders (self-initialised
// on purpose) inside the shift, multiply and conversion intrinsics as uninitialized.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include "zimt/optim/scale_by_factor.hpp"

#include "zimt/numerics.hpp"

#include <immintrin.h>

namespace zimt::optim {

namespace {

// m + half - 1 + (q & 1), with q = m >> right, carries into q exactly when
// the remainder exceeds half, or equals it and q is odd: round half to even.
uint64_t scale_scalar(const int64_t* g, int8_t* sign, uint64_t* mag, size_t size, uint64_t k, int right) {
  const uint64_t half = uint64_t{1} << (right - 1);
  uint64_t sum = 0;
  for (size_t i = 0; i < size; ++i) {
    const int64_t x = g[i];
    sign[i] = static_cast<int8_t>((x > 0) - (x < 0));
    const auto negative = static_cast<uint64_t>(x >> 63);                                    // all ones for x < 0
    const u128 m = static_cast<u128>((static_cast<uint64_t>(x) ^ negative) - negative) * k;  // |x| k < 2^127
    mag[i] = static_cast<uint64_t>((m + (half - 1) + (static_cast<uint64_t>(m >> right) & 1)) >> right);
    sum += mag[i];
  }
  return sum;
}

// The same on eight lanes per register: the 128-bit product from four
// 32 x 32-bit products, the rounding term added with its carry, and the
// 128-bit shift as two 64-bit shifts.
__attribute__((target("avx512f"))) uint64_t scale_avx512(const int64_t* g, int8_t* sign, uint64_t* mag, size_t size,
                                                         uint64_t k, int right) {
  const __m512i low32 = _mm512_set1_epi64(0xFFFFFFFF);
  const __m512i k_low = _mm512_set1_epi64(static_cast<long long>(k & 0xFFFFFFFF));
  const __m512i k_high = _mm512_set1_epi64(static_cast<long long>(k >> 32));
  const __m512i half_minus_one = _mm512_set1_epi64(static_cast<long long>((uint64_t{1} << (right - 1)) - 1));
  const __m512i one = _mm512_set1_epi64(1), zero = _mm512_setzero_si512();
  const __m128i shift_right = _mm_cvtsi32_si128(right), shift_left = _mm_cvtsi32_si128(64 - right);
  __m512i sum = zero;
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    const __m512i x = _mm512_loadu_si512(g + i);
    const __mmask8 positive = _mm512_cmpgt_epi64_mask(x, zero), negative = _mm512_cmplt_epi64_mask(x, zero);
    const __m512i s = _mm512_mask_mov_epi64(_mm512_maskz_mov_epi64(positive, one), negative, _mm512_set1_epi64(-1));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(sign + i), _mm512_cvtepi64_epi8(s));
    const __m512i a = _mm512_abs_epi64(x);  // 2^63 for INT64_MIN, read unsigned
    const __m512i a_high = _mm512_srli_epi64(a, 32);
    const __m512i p0 = _mm512_mul_epu32(a, k_low);        // a_low k_low
    const __m512i p1 = _mm512_mul_epu32(a, k_high);       // a_low k_high
    const __m512i p2 = _mm512_mul_epu32(a_high, k_low);   // a_high k_low
    const __m512i p3 = _mm512_mul_epu32(a_high, k_high);  // a_high k_high
    // Bits 32..95 of the product, below 3 * 2^32 before its carry is split off.
    const __m512i mid = _mm512_add_epi64(_mm512_add_epi64(_mm512_srli_epi64(p0, 32), _mm512_and_si512(p1, low32)),
                                         _mm512_and_si512(p2, low32));
    const __m512i lo = _mm512_or_si512(_mm512_slli_epi64(mid, 32), _mm512_and_si512(p0, low32));
    const __m512i hi = _mm512_add_epi64(_mm512_add_epi64(p3, _mm512_srli_epi64(mid, 32)),
                                        _mm512_add_epi64(_mm512_srli_epi64(p1, 32), _mm512_srli_epi64(p2, 32)));
    // + half - 1 + (bit `right` of the product), carried into the high word.
    const __m512i round = _mm512_add_epi64(half_minus_one, _mm512_and_si512(_mm512_srl_epi64(lo, shift_right), one));
    const __m512i lo_rounded = _mm512_add_epi64(lo, round);
    const __mmask8 carry = _mm512_cmplt_epu64_mask(lo_rounded, lo);
    const __m512i hi_rounded = _mm512_mask_add_epi64(hi, carry, hi, one);
    const __m512i m =
        _mm512_or_si512(_mm512_srl_epi64(lo_rounded, shift_right), _mm512_sll_epi64(hi_rounded, shift_left));
    _mm512_storeu_si512(mag + i, m);
    sum = _mm512_add_epi64(sum, m);
  }
  uint64_t total = static_cast<uint64_t>(_mm512_reduce_add_epi64(sum));
  return total + scale_scalar(g + i, sign + i, mag + i, size - i, k, right);
}

}  // namespace

bool scale_path_supported(ScalePath path) { return path == ScalePath::scalar || __builtin_cpu_supports("avx512f"); }

ScalePath best_scale_path() {
  static const ScalePath best = scale_path_supported(ScalePath::avx512) ? ScalePath::avx512 : ScalePath::scalar;
  return best;
}

uint64_t scale_by_factor_on(ScalePath path, const int64_t* g, int8_t* sign, uint64_t* magnitude, size_t size,
                            uint64_t k, int right) {
  if (path == ScalePath::avx512) return scale_avx512(g, sign, magnitude, size, k, right);
  return scale_scalar(g, sign, magnitude, size, k, right);
}

}  // namespace zimt::optim
