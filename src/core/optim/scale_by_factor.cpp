// GCC 12 reports its own _mm512_undefined_* placeholders (self-initialised
// on purpose) inside the shift, multiply and conversion intrinsics as uninitialized.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include "zimt/optim/scale_by_factor.hpp"

#include "zimt/numerics.hpp"

#include <immintrin.h>

#include <algorithm>

namespace zimt::optim {

namespace {

// round-half-even(a k / 2^right) as m + half - 1 + (q & 1), with m = a k
// and q = m >> right: it carries into q exactly when the remainder exceeds
// half, or equals it and q is odd (m + half - 1 + 1 < 2^127 + 2^126 + 1
// stays within 128 bits). half_minus_one = 2^(right - 1) - 1.
inline uint64_t scaled_value(uint64_t a, uint64_t k, int right, u128 half_minus_one) {
  const u128 m = static_cast<u128>(a) * k;  // < 2^127
  return static_cast<uint64_t>((m + half_minus_one + (static_cast<uint64_t>(m >> right) & 1)) >> right);
}

ScaledSum scale_scalar(const int64_t* g, int8_t* sign, uint64_t* mag, size_t size, uint64_t k, int right) {
  const u128 half_minus_one = (static_cast<u128>(1) << (right - 1)) - 1;
  ScaledSum out;
  for (size_t i = 0; i < size; ++i) {
    const int64_t x = g[i];
    sign[i] = static_cast<int8_t>((x > 0) - (x < 0));
    mag[i] = scaled_value(abs_u64(x), k, right, half_minus_one);
    out.sum += mag[i];
    out.abs_or |= abs_u64(x);
  }
  return out;
}

ScaledSum sum_scalar(const int64_t* g, size_t size, uint64_t k, int right) {
  const u128 half_minus_one = (static_cast<u128>(1) << (right - 1)) - 1;
  ScaledSum out;
  for (size_t i = 0; i < size; ++i) {
    out.sum += scaled_value(abs_u64(g[i]), k, right, half_minus_one);
    out.abs_or |= abs_u64(g[i]);
  }
  return out;
}

// sign and magnitude when the factor is a power of two, folded into `shift`
// (-63 < shift < 64): magnitude = round-half-even(|g| * 2^shift). Chosen by
// hand, not by target_clones: a function of internal linkage would get its
// clone resolved while the program loads, before a sanitizer's runtime is
// up.
[[gnu::always_inline]] inline ScaledSum power_of_two_block(const int64_t* g, int8_t* sign, uint64_t* mag, size_t size,
                                                           int shift) {
  uint64_t sum = 0, any = 0;
  if (shift >= 0) {
    for (size_t i = 0; i < size; ++i) {
      sign[i] = static_cast<int8_t>((g[i] > 0) - (g[i] < 0));
      const uint64_t a = abs_u64(g[i]);
      mag[i] = a << shift;  // fits: the scale choice bounds it by 2^budget
      sum += mag[i];
      any |= a;
    }
    return {sum, any};
  }
  const int right = -shift;
  const uint64_t mask = (uint64_t{1} << right) - 1, half = uint64_t{1} << (right - 1);
  for (size_t i = 0; i < size; ++i) {
    sign[i] = static_cast<int8_t>((g[i] > 0) - (g[i] < 0));
    const uint64_t a = abs_u64(g[i]);
    const uint64_t q = a >> right, rem = a & mask;
    // Up iff rem > half, or rem == half and q odd; rem + 1 < 2^62 for right <= 62.
    mag[i] = q + (static_cast<int64_t>(rem + (q & 1)) > static_cast<int64_t>(half));
    sum += mag[i];
    any |= a;
  }
  return {sum, any};
}

__attribute__((target("avx2"))) ScaledSum power_of_two_avx2(const int64_t* g, int8_t* sign, uint64_t* mag, size_t size,
                                                            int shift) {
  return power_of_two_block(g, sign, mag, size, shift);
}

ScaledSum power_of_two_generic(const int64_t* g, int8_t* sign, uint64_t* mag, size_t size, int shift) {
  return power_of_two_block(g, sign, mag, size, shift);
}

ScaledSum power_of_two_scalar(const int64_t* g, int8_t* sign, uint64_t* mag, size_t size, int shift) {
  static const bool avx2 = __builtin_cpu_supports("avx2");
  return avx2 ? power_of_two_avx2(g, sign, mag, size, shift) : power_of_two_generic(g, sign, mag, size, shift);
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

// The constants of the eight-lane rounding (scaled_lanes) for one k and right.
struct LaneScale {
  __m512i low32, k_low, k_high, round_low, round_high, one;
  Shift128 shift;
};

__attribute__((target("avx512f"))) LaneScale lane_scale(uint64_t k, int right) {
  const u128 half_minus_one = (static_cast<u128>(1) << (right - 1)) - 1;
  return {_mm512_set1_epi64(0xFFFFFFFF),
          _mm512_set1_epi64(static_cast<long long>(k & 0xFFFFFFFF)),
          _mm512_set1_epi64(static_cast<long long>(k >> 32)),
          _mm512_set1_epi64(static_cast<long long>(static_cast<uint64_t>(half_minus_one))),
          _mm512_set1_epi64(static_cast<long long>(static_cast<uint64_t>(half_minus_one >> 64))),
          _mm512_set1_epi64(1),
          {_mm_cvtsi32_si128(right), _mm_cvtsi32_si128(right < 64 ? 64 - right : 64),
           _mm_cvtsi32_si128(right >= 64 ? right - 64 : 64)}};
}

// round-half-even(a k / 2^right) on eight lanes of a = |g| (read unsigned):
// the 128-bit product from four 32 x 32-bit products, the rounding term
// added with its carries, and the 128-bit shift as three 64-bit shifts (a
// count of 64 or more gives 0, so one formula serves right below, at and
// above 64).
__attribute__((target("avx512f"), always_inline)) inline __m512i scaled_lanes(__m512i a, const LaneScale& c) {
  const __m512i a_high = _mm512_srli_epi64(a, 32);
  const __m512i p0 = _mm512_mul_epu32(a, c.k_low);        // a_low k_low
  const __m512i p1 = _mm512_mul_epu32(a, c.k_high);       // a_low k_high
  const __m512i p2 = _mm512_mul_epu32(a_high, c.k_low);   // a_high k_low
  const __m512i p3 = _mm512_mul_epu32(a_high, c.k_high);  // a_high k_high
  // Bits 32..95 of the product, below 3 * 2^32 before its carry is split off.
  const __m512i mid = _mm512_add_epi64(_mm512_add_epi64(_mm512_srli_epi64(p0, 32), _mm512_and_si512(p1, c.low32)),
                                       _mm512_and_si512(p2, c.low32));
  const __m512i lo = _mm512_or_si512(_mm512_slli_epi64(mid, 32), _mm512_and_si512(p0, c.low32));
  const __m512i hi = _mm512_add_epi64(_mm512_add_epi64(p3, _mm512_srli_epi64(mid, 32)),
                                      _mm512_add_epi64(_mm512_srli_epi64(p1, 32), _mm512_srli_epi64(p2, 32)));
  // + half - 1 + (bit `right` of the product), each carry into the high word.
  const __m512i bit = _mm512_and_si512(shift_right(hi, lo, c.shift), c.one);
  const __m512i lo1 = _mm512_add_epi64(lo, c.round_low);
  const __m512i lo2 = _mm512_add_epi64(lo1, bit);
  __m512i hi2 = _mm512_add_epi64(hi, c.round_high);
  hi2 = _mm512_mask_add_epi64(hi2, _mm512_cmplt_epu64_mask(lo1, lo), hi2, c.one);
  hi2 = _mm512_mask_add_epi64(hi2, _mm512_cmplt_epu64_mask(lo2, lo1), hi2, c.one);
  return shift_right(hi2, lo2, c.shift);
}

// The sum of eight lanes modulo 2^64, as the scalar loops add (the
// intrinsic reduction adds in signed 64 bits, where a wrap is undefined).
__attribute__((target("avx512f"), always_inline)) inline uint64_t lane_sum(__m512i v) {
  alignas(64) uint64_t lanes[8];
  _mm512_store_si512(lanes, v);
  uint64_t sum = 0;
  for (const uint64_t lane : lanes) sum += lane;
  return sum;
}

// The eight-lane pass of both scalings: the signs stored, f(|g|) stored
// and summed, the |g| ORed, over the whole registers of g[0, size); `done`
// receives their length (the caller's scalar loop takes the rest).
template <class F>
__attribute__((target("avx512f"), always_inline)) inline ScaledSum scale_lanes(const int64_t* g, int8_t* sign,
                                                                               uint64_t* mag, size_t size, const F& f,
                                                                               size_t& done) {
  const __m512i one = _mm512_set1_epi64(1), zero = _mm512_setzero_si512();
  __m512i sum = zero, any = zero;
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    const __m512i x = _mm512_loadu_si512(g + i);
    const __mmask8 positive = _mm512_cmpgt_epi64_mask(x, zero), negative = _mm512_cmplt_epi64_mask(x, zero);
    const __m512i s = _mm512_mask_mov_epi64(_mm512_maskz_mov_epi64(positive, one), negative, _mm512_set1_epi64(-1));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(sign + i), _mm512_cvtepi64_epi8(s));
    const __m512i a = _mm512_abs_epi64(x);  // 2^63 for INT64_MIN, read unsigned
    const __m512i m = f(a);
    _mm512_storeu_si512(mag + i, m);
    sum = _mm512_add_epi64(sum, m);
    any = _mm512_or_si512(any, a);
  }
  done = i;
  return {lane_sum(sum), static_cast<uint64_t>(_mm512_reduce_or_epi64(any))};
}

// f(|g|) of the three scalings on eight lanes: by a factor (scaled_lanes),
// by a left shift, and by a right shift rounded half to even (the quotient
// up by one where rem + (q & 1) > half, as power_of_two_block).
struct ByFactor {
  LaneScale c;
  __attribute__((target("avx512f"), always_inline)) __m512i operator()(__m512i a) const { return scaled_lanes(a, c); }
};
struct ByLeftShift {
  __m128i count;
  __attribute__((target("avx512f"), always_inline)) __m512i operator()(__m512i a) const {
    return _mm512_sll_epi64(a, count);
  }
};
struct ByRightShift {
  __m128i count;
  __m512i mask, half, one;
  __attribute__((target("avx512f"), always_inline)) __m512i operator()(__m512i a) const {
    const __m512i q = _mm512_srl_epi64(a, count);
    const __mmask8 up =
        _mm512_cmpgt_epi64_mask(_mm512_add_epi64(_mm512_and_si512(a, mask), _mm512_and_si512(q, one)), half);
    return _mm512_mask_add_epi64(q, up, q, one);
  }
};

__attribute__((target("avx512f"))) ScaledSum scale_avx512(const int64_t* g, int8_t* sign, uint64_t* mag, size_t size,
                                                          uint64_t k, int right) {
  size_t done = 0;
  const ScaledSum lanes = scale_lanes(g, sign, mag, size, ByFactor{lane_scale(k, right)}, done);
  ScaledSum rest = scale_scalar(g + done, sign + done, mag + done, size - done, k, right);
  return {rest.sum + lanes.sum, rest.abs_or | lanes.abs_or};
}

__attribute__((target("avx512f"))) ScaledSum power_of_two_avx512(const int64_t* g, int8_t* sign, uint64_t* mag,
                                                                 size_t size, int shift) {
  size_t done = 0;
  ScaledSum lanes;
  if (shift >= 0) {
    lanes = scale_lanes(g, sign, mag, size, ByLeftShift{_mm_cvtsi32_si128(shift)}, done);
  } else {
    const int right = -shift;
    const ByRightShift f{_mm_cvtsi32_si128(right), _mm512_set1_epi64(static_cast<int64_t>((uint64_t{1} << right) - 1)),
                         _mm512_set1_epi64(int64_t{1} << (right - 1)), _mm512_set1_epi64(1)};
    lanes = scale_lanes(g, sign, mag, size, f, done);
  }
  ScaledSum rest = power_of_two_scalar(g + done, sign + done, mag + done, size - done, shift);
  return {rest.sum + lanes.sum, rest.abs_or | lanes.abs_or};
}

// The sum alone: the nonzero |g| of each chunk packed together first (a
// zero rounds to 0), so mostly-zero gradients cost their nonzero entries.
__attribute__((target("avx512f"))) ScaledSum sum_avx512(const int64_t* g, size_t size, uint64_t k, int right) {
  constexpr size_t chunk = 256;
  const LaneScale c = lane_scale(k, right);
  alignas(64) uint64_t packed[chunk + 8];
  __m512i sum = _mm512_setzero_si512(), any = _mm512_setzero_si512();
  uint64_t rest_or = 0;
  for (size_t begin = 0; begin < size; begin += chunk) {
    const size_t end = std::min(size, begin + chunk);
    size_t count = 0, i = begin;
    for (; i + 8 <= end; i += 8) {
      const __m512i x = _mm512_loadu_si512(g + i);
      const __mmask8 nonzero = _mm512_test_epi64_mask(x, x);
      const __m512i a = _mm512_abs_epi64(x);
      _mm512_mask_compressstoreu_epi64(packed + count, nonzero, a);
      count += static_cast<size_t>(__builtin_popcount(nonzero));
      any = _mm512_or_si512(any, a);
    }
    for (; i < end; ++i) {
      packed[count++] = abs_u64(g[i]);
      rest_or |= abs_u64(g[i]);
    }
    for (size_t j = count; j % 8 != 0; ++j) packed[j] = 0;  // whole registers
    for (size_t j = 0; j < count; j += 8) sum = _mm512_add_epi64(sum, scaled_lanes(_mm512_load_si512(packed + j), c));
  }
  return {lane_sum(sum), rest_or | static_cast<uint64_t>(_mm512_reduce_or_epi64(any))};
}

}  // namespace

bool scale_path_supported(ScalePath path) { return path == ScalePath::scalar || __builtin_cpu_supports("avx512f"); }

ScalePath best_scale_path() {
  static const ScalePath best = scale_path_supported(ScalePath::avx512) ? ScalePath::avx512 : ScalePath::scalar;
  return best;
}

ScaledSum scale_by_factor_on(ScalePath path, const int64_t* g, int8_t* sign, uint64_t* magnitude, size_t size,
                             uint64_t k, int right) {
  if (path == ScalePath::avx512) return scale_avx512(g, sign, magnitude, size, k, right);
  return scale_scalar(g, sign, magnitude, size, k, right);
}

ScaledSum scale_by_power_of_two_on(ScalePath path, const int64_t* g, int8_t* sign, uint64_t* magnitude, size_t size,
                                   int shift) {
  if (path == ScalePath::avx512) return power_of_two_avx512(g, sign, magnitude, size, shift);
  return power_of_two_scalar(g, sign, magnitude, size, shift);
}

ScaledSum sum_scaled_by_factor_on(ScalePath path, const int64_t* g, size_t size, uint64_t k, int right) {
  if (path == ScalePath::avx512) return sum_avx512(g, size, k, right);
  return sum_scalar(g, size, k, right);
}

}  // namespace zimt::optim
