#pragma once
// The AVX-512 BW window rules of the plain 2x2 max pool (max_2x2.hpp), for
// its row kernels (max_2x2_avx512.cpp) and for conv2d_pooled_backward's
// (conv2d_pooled_avx512.cpp). One zmm holds 32 int16 inputs of a row, i.e.
// 16 windows' (kw = 0, kw = 1) pairs as 32-bit words; int8 rows are
// sign-extended to int16 on load.
//   window max: max(x, x rotated by 16 bits in each word) over both rows, so
//               every lane holds the max of its window;
//   routing:    compare masks of the two rows against the max, reduced to the
//               first maximum with bit operations on the masks (the even
//               bit of a pair is kw = 0, the odd one kw = 1), dy duplicated
//               into both halves of each word and kept under those masks
//               (ANDed with max > 0 for positive_only).
// A file that includes this compiles it for at least ZIMT_AVX512BW's set.
#include <immintrin.h>

#include <cstdint>

#define ZIMT_AVX512BW __attribute__((target("avx512f,avx512bw,avx512vl")))

namespace zimt::max_2x2::detail {

inline constexpr int64_t kWindows = 16;  // windows per zmm
inline constexpr uint32_t kEven = 0x55555555;

// The first `lanes` (<= 32) inputs as int16 lanes, the rest 0.
ZIMT_AVX512BW inline __m512i load_row(const int16_t* p, __mmask32 lanes) { return _mm512_maskz_loadu_epi16(lanes, p); }
ZIMT_AVX512BW inline __m512i load_row(const int8_t* p, __mmask32 lanes) {
  return _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(lanes, p));
}

// Every lane: the max of its window.
ZIMT_AVX512BW inline __m512i window_max(__m512i a, __m512i b) {
  const __m512i pair_a = _mm512_max_epi16(a, _mm512_rol_epi32(a, 16));
  const __m512i pair_b = _mm512_max_epi16(b, _mm512_rol_epi32(b, 16));
  return _mm512_max_epi16(pair_a, pair_b);
}

// Input lanes of windows [w, w + 16) of `count`, and the windows themselves.
inline __mmask32 input_lanes(int64_t left) {
  return left >= kWindows ? ~__mmask32{0} : (__mmask32{1} << (2 * left)) - 1;
}
inline __mmask16 window_lanes(int64_t left) {
  return left >= kWindows ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << left) - 1);
}

// The errors of 16 windows' inputs: rows a (kh = 0) and b (kh = 1), dy of
// window w in the low half of word w of e; lanes outside `lanes` are 0.
struct RoutedRows {
  __m512i d0, d1;
};
ZIMT_AVX512BW inline RoutedRows route_windows(__m512i a, __m512i b, __m512i e, __mmask32 lanes, bool positive_only) {
  const __m512i m = window_max(a, b);
  // Lanes whose window may pass dy: all, or those whose maximum (in both halves of the word) is > 0.
  const uint32_t pass = (positive_only ? _mm512_cmpgt_epi16_mask(m, _mm512_setzero_si512()) : ~uint32_t{0}) & lanes;
  const uint32_t top = _mm512_cmpeq_epi16_mask(a, m) & pass, bottom = _mm512_cmpeq_epi16_mask(b, m) & pass;
  // Row 0: kw = 0 when it is a maximum, kw = 1 when it is and kw = 0 is not.
  const uint32_t pick_top = top & ~((top & kEven) << 1);
  // Row 1 only when row 0 holds no maximum, then the same rule.
  const uint32_t top_any = (top | (top >> 1)) & kEven;
  const uint32_t pick_bottom = bottom & ~(top_any | (top_any << 1)) & ~((bottom & kEven) << 1);
  const __m512i e2 = _mm512_or_si512(e, _mm512_slli_epi32(e, 16));  // dy in both halves of a word
  return {_mm512_maskz_mov_epi16(pick_top, e2), _mm512_maskz_mov_epi16(pick_bottom, e2)};
}

// dy of windows [w, w + 16) of `left` in the low halves of the words.
ZIMT_AVX512BW inline __m512i window_errors(const int16_t* dy, int64_t left) {
  return _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(window_lanes(left), dy));
}

}  // namespace zimt::max_2x2::detail
