// AVX-512 versions of zimt/optim/draw_kernels.hpp: eight 64-bit or sixteen 32-bit lanes
// per instruction, the same results as the portable code.
// GCC 12 reports its own _mm512_undefined_* placeholders (self-initialised
// on purpose) inside the shift and multiply intrinsics as uninitialized.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include "draw_kernels_avx512.hpp"

#define ZIMT_AVX512F __attribute__((target("avx512f")))

namespace zimt::optim::detail {

// 64 x 64 -> 128-bit products from four 32 x 32 -> 64-bit ones (vpmuludq),
// bound < 2^55 so that no partial sum leaves 64 bits: with w = wh 2^32 + wl
// and bound = bh 2^32 + bl,
//   mid  = wh bl + (wl bl >> 32)             < 2^64
//   mid2 = wl bh + (mid mod 2^32)            < 2^56
//   high = wh bh + (mid >> 32) + (mid2 >> 32)
//   low  = (mid2 mod 2^32) 2^32 + (wl bl mod 2^32).
ZIMT_AVX512F bool multiply_draws_avx512(const uint64_t* w, size_t size, uint64_t bound, uint64_t* draws) {
  const __m512i bl = _mm512_set1_epi64(static_cast<int64_t>(bound & 0xFFFFFFFFu));
  const __m512i bh = _mm512_set1_epi64(static_cast<int64_t>(bound >> 32));
  const __m512i b = _mm512_set1_epi64(static_cast<int64_t>(bound));
  const __m512i low32 = _mm512_set1_epi64(0xFFFFFFFF);
  __mmask8 rejected = 0;
  for (size_t k = 0; k < size; k += 8) {
    const __mmask8 valid = size - k >= 8 ? __mmask8{0xFF} : static_cast<__mmask8>((1u << (size - k)) - 1);
    const __m512i x = _mm512_maskz_loadu_epi64(valid, w + k);
    const __m512i xh = _mm512_srli_epi64(x, 32);
    const __m512i ll = _mm512_mul_epu32(x, bl), lh = _mm512_mul_epu32(x, bh);
    const __m512i hl = _mm512_mul_epu32(xh, bl), hh = _mm512_mul_epu32(xh, bh);
    const __m512i mid = _mm512_add_epi64(hl, _mm512_srli_epi64(ll, 32));
    const __m512i mid2 = _mm512_add_epi64(lh, _mm512_and_si512(mid, low32));
    const __m512i high =
        _mm512_add_epi64(_mm512_add_epi64(hh, _mm512_srli_epi64(mid, 32)), _mm512_srli_epi64(mid2, 32));
    const __m512i low = _mm512_or_si512(_mm512_slli_epi64(mid2, 32), _mm512_and_si512(ll, low32));
    rejected |= _mm512_mask_cmplt_epu64_mask(valid, low, b);
    _mm512_mask_storeu_epi64(draws + k, valid, high);
  }
  return rejected != 0;
}

// Eight values per compare, those below bound packed to the front (vpcompressq).
ZIMT_AVX512F size_t below_avx512(const uint64_t* v, size_t size, uint64_t bound, uint64_t* below) {
  const __m512i b = _mm512_set1_epi64(static_cast<int64_t>(bound));
  size_t count = 0, k = 0;
  for (; k + 8 <= size; k += 8) {
    const __m512i x = _mm512_loadu_si512(v + k);
    const __mmask8 keep = _mm512_cmplt_epu64_mask(x, b);
    _mm512_mask_compressstoreu_epi64(below + count, keep, x);
    count += static_cast<size_t>(__builtin_popcount(keep));
  }
  return count + below_portable(v + k, size - k, bound, below + count);
}

ZIMT_AVX512F void first_entries_avx512(const uint64_t* start, size_t count, int shift, uint32_t entries,
                                       uint32_t* first) {
  const __m128i by = _mm_cvtsi32_si128(shift);
  const __m512i round_up = _mm512_set1_epi64(static_cast<int64_t>((uint64_t{1} << shift) - 1));
  const __m512i one = _mm512_set1_epi64(1), cap = _mm512_set1_epi64(entries);
  size_t i = 0;
  for (; i + 8 <= count; i += 8) {
    const __m512i s = _mm512_loadu_si512(start + i);
    const __m512i whole = _mm512_srl_epi64(s, by);
    const __m512i entry = _mm512_mask_add_epi64(whole, _mm512_test_epi64_mask(s, round_up), whole, one);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(first + i), _mm512_cvtepi64_epi32(_mm512_min_epu64(entry, cap)));
  }
  first_entries_portable(start + i, count - i, shift, entries, first + i);
}

// Per 8 lanes: the running sums within the vector in three shift-and-add
// steps (lanes shifted in are 0), then the carry from the vectors before
// (broadcast of the last lane); sums modulo 2^64, exact as the total fits.
ZIMT_AVX512F void running_sums_avx512(const uint64_t* m, size_t count, uint64_t* cumulative) {
  const __m512i zero = _mm512_setzero_si512(), last = _mm512_set1_epi64(7);
  __m512i carry = zero;
  cumulative[0] = 0;
  size_t i = 0;
  for (; i + 8 <= count; i += 8) {
    __m512i x = _mm512_loadu_si512(m + i);
    x = _mm512_add_epi64(x, _mm512_alignr_epi64(x, zero, 7));
    x = _mm512_add_epi64(x, _mm512_alignr_epi64(x, zero, 6));
    x = _mm512_add_epi64(x, _mm512_alignr_epi64(x, zero, 4));
    x = _mm512_add_epi64(x, carry);
    _mm512_storeu_si512(cumulative + i + 1, x);
    carry = _mm512_permutexvar_epi64(last, x);
  }
  running_sums_portable(m + i, count - i, cumulative[i], cumulative + i);
}

// Per 16 lanes: the running maximum within the vector in four shift-and-max
// steps (lanes shifted in are 0, below every value), then the carry from the
// vectors before (broadcast of the last lane).
ZIMT_AVX512F void running_max_avx512(uint32_t* v, size_t count) {
  const __m512i zero = _mm512_setzero_si512(), last = _mm512_set1_epi32(15);
  __m512i carry = zero;
  size_t g = 0;
  for (; g + 16 <= count; g += 16) {
    __m512i x = _mm512_loadu_si512(v + g);
    x = _mm512_max_epu32(x, _mm512_alignr_epi32(x, zero, 15));
    x = _mm512_max_epu32(x, _mm512_alignr_epi32(x, zero, 14));
    x = _mm512_max_epu32(x, _mm512_alignr_epi32(x, zero, 12));
    x = _mm512_max_epu32(x, _mm512_alignr_epi32(x, zero, 8));
    x = _mm512_max_epu32(x, carry);
    _mm512_storeu_si512(v + g, x);
    carry = _mm512_permutexvar_epi32(last, x);
  }
  running_max_portable(v + g, count - g, static_cast<uint32_t>(_mm_cvtsi128_si32(_mm512_castsi512_si128(carry))));
}

}  // namespace zimt::optim::detail
