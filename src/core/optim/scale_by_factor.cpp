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
// the remainder exceeds half, or equals it and q is odd: round half to even
// (m + half - 1 + 1 < 2^127 + 2^126 + 1 stays within 128 bits).
uint64_t scale_scalar(const int64_t* g, int8_t* sign, uint64_t* mag, size_t size, uint64_t k, int right) {
  const u128 half_minus_one = (static_cast<u128>(1) << (right - 1)) - 1;
  uint64_t sum = 0;
  for (size_t i = 0; i < size; ++i) {
    const int64_t x = g[i];
    sign[i] = static_cast<int8_t>((x > 0) - (x < 0));
    const auto negative = static_cast<uint64_t>(x >> 63);                                    // all ones for x < 0
    const u128 m = static_cast<u128>((static_cast<uint64_t>(x) ^ negative) - negative) * k;  // |x| k < 2^127
    mag[i] = static_cast<uint64_t>((m + half_minus_one + (static_cast<uint64_t>(m >> right) & 1)) >> right);
    sum += mag[i];
  }
  return sum;
}

// (hi, lo) >> right = lo >> right | hi << (64 - right) | hi >> (right - 64),
// with the counts of the terms that vanish set to 64 (their result is 0).
struct Shift128 {
  __m128i lo_right, hi_left, hi_right;
};

__attribute__((target("avx512f"), always_inline)) inline __m512i shift_right(__m512i hi, __m512i lo,
                                                                             const Shift128& s) {
  return _mm512_ternarylogic_epi64(_mm512_srl_epi64(lo, s.lo_right), _mm512_sll_epi64(hi, s.hi_left),
                                   _mm512_srl_epi64(hi, s.hi_right), 0xFE);  // a | b | c
}

// The same on eight lanes per register: the 128-bit product from four
// 32 x 32-bit products, the rounding term added with its carries, and the
// 128-bit shift as three 64-bit shifts (a count of 64 or more gives 0, so
// one formula serves right below, at and above 64).
__attribute__((target("avx512f"))) uint64_t scale_avx512(const int64_t* g, int8_t* sign, uint64_t* mag, size_t size,
                                                         uint64_t k, int right) {
  const __m512i low32 = _mm512_set1_epi64(0xFFFFFFFF);
  const __m512i k_low = _mm512_set1_epi64(static_cast<long long>(k & 0xFFFFFFFF));
  const __m512i k_high = _mm512_set1_epi64(static_cast<long long>(k >> 32));
  const u128 half_minus_one = (static_cast<u128>(1) << (right - 1)) - 1;
  const __m512i round_low = _mm512_set1_epi64(static_cast<long long>(static_cast<uint64_t>(half_minus_one)));
  const __m512i round_high = _mm512_set1_epi64(static_cast<long long>(static_cast<uint64_t>(half_minus_one >> 64)));
  const __m512i one = _mm512_set1_epi64(1), zero = _mm512_setzero_si512();
  const Shift128 shift{_mm_cvtsi32_si128(right), _mm_cvtsi32_si128(right < 64 ? 64 - right : 64),
                       _mm_cvtsi32_si128(right >= 64 ? right - 64 : 64)};
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
    // + half - 1 + (bit `right` of the product), each carry into the high word.
    const __m512i bit = _mm512_and_si512(shift_right(hi, lo, shift), one);
    const __m512i lo1 = _mm512_add_epi64(lo, round_low);
    const __m512i lo2 = _mm512_add_epi64(lo1, bit);
    __m512i hi2 = _mm512_add_epi64(hi, round_high);
    hi2 = _mm512_mask_add_epi64(hi2, _mm512_cmplt_epu64_mask(lo1, lo), hi2, one);
    hi2 = _mm512_mask_add_epi64(hi2, _mm512_cmplt_epu64_mask(lo2, lo1), hi2, one);
    const __m512i m = shift_right(hi2, lo2, shift);
    _mm512_storeu_si512(mag + i, m);
    sum = _mm512_add_epi64(sum, m);
  }
  const auto total = static_cast<uint64_t>(_mm512_reduce_add_epi64(sum));
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
