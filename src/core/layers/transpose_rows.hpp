#pragma once
// A transpose shared by the layers' backward passes (linear's Wᵀ and errors,
// conv2d's Wᵀ): rows gathered by an accessor, written as columns.
#include <emmintrin.h>  // SSE2, part of baseline x86-64
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cstdint>

namespace zimt::detail {

// dst (8, ld) = the 8 x 8 int16 block at column c of rows src[0..8), as
// columns: three rounds of unpacks (pairs of rows, of pairs, of quads).
inline void transpose_block(int16_t* dst, int64_t ld, const int16_t* const* src, int64_t c) {
  __m128i a[8], b[8];
  for (int64_t i = 0; i < 8; ++i) a[i] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src[i] + c));
  for (int64_t i = 0; i < 8; i += 2) {
    b[i] = _mm_unpacklo_epi16(a[i], a[i + 1]);      // columns 0-3 of rows i, i+1
    b[i + 1] = _mm_unpackhi_epi16(a[i], a[i + 1]);  // columns 4-7
  }
  for (int64_t h = 0; h < 2; ++h) {  // h: columns 0-3 or 4-7; rows 0-3 (lo) and 4-7 (hi)
    const __m128i lo[2] = {_mm_unpacklo_epi32(b[h], b[h + 2]), _mm_unpackhi_epi32(b[h], b[h + 2])};
    const __m128i hi[2] = {_mm_unpacklo_epi32(b[h + 4], b[h + 6]), _mm_unpackhi_epi32(b[h + 4], b[h + 6])};
    for (int64_t q = 0; q < 2; ++q) {  // columns 4h + 2q, 4h + 2q + 1
      const int64_t col = 4 * h + 2 * q;
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + col * ld), _mm_unpacklo_epi64(lo[q], hi[q]));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + (col + 1) * ld), _mm_unpackhi_epi64(lo[q], hi[q]));
    }
  }
}

// dst (16, ld) = the 16 x 16 int8 block at column c of rows src[0..16), as
// columns: four rounds of unpacks.
inline void transpose_block(int8_t* dst, int64_t ld, const int8_t* const* src, int64_t c) {
  __m128i a[16], t[16], u[16], v[8], w[8];
  for (int64_t i = 0; i < 16; ++i) a[i] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src[i] + c));
  for (int64_t i = 0; i < 16; i += 2) {
    t[i] = _mm_unpacklo_epi8(a[i], a[i + 1]);      // columns 0-7 of rows i, i+1
    t[i + 1] = _mm_unpackhi_epi8(a[i], a[i + 1]);  // columns 8-15
  }
  for (int64_t g = 0; g < 16; g += 4) {  // rows g..g+3, columns in fours
    u[g] = _mm_unpacklo_epi16(t[g], t[g + 2]);
    u[g + 1] = _mm_unpackhi_epi16(t[g], t[g + 2]);
    u[g + 2] = _mm_unpacklo_epi16(t[g + 1], t[g + 3]);
    u[g + 3] = _mm_unpackhi_epi16(t[g + 1], t[g + 3]);
  }
  for (int64_t q = 0; q < 4; ++q) {  // columns 4q..4q+3 in pairs, rows 0-7 and 8-15
    v[2 * q] = _mm_unpacklo_epi32(u[q], u[q + 4]);
    v[2 * q + 1] = _mm_unpackhi_epi32(u[q], u[q + 4]);
    w[2 * q] = _mm_unpacklo_epi32(u[q + 8], u[q + 12]);
    w[2 * q + 1] = _mm_unpackhi_epi32(u[q + 8], u[q + 12]);
  }
  for (int64_t p = 0; p < 8; ++p) {  // columns 2p, 2p+1
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 2 * p * ld), _mm_unpacklo_epi64(v[p], w[p]));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + (2 * p + 1) * ld), _mm_unpackhi_epi64(v[p], w[p]));
  }
}

// dst (cols, count) = the rows row(0..count) (cols values each) as columns.
// In tiles of 32 x 32: a tile's reads and writes each stay within 32 lines,
// where a whole row of columns at once would write lines a power-of-two
// stride apart that evict each other (20x slower on a 512 x 4,608 matrix).
// Inside a tile, full blocks of one 16-byte register per row (8 x 8 int16,
// 16 x 16 int8) move by transpose_block, the tile's edges value by value.
// The threads share bands of columns.
template <class T, class Row>
void transpose_rows(T* dst, int64_t count, int64_t cols, const Row& row) {
  constexpr int64_t kTile = 32, kBlock = 16 / sizeof(T);
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, cols, 2 * kTile), [&](const tbb::blocked_range<int64_t>& r) {
    const T* src[kTile];
    for (int64_t j0 = 0; j0 < count; j0 += kTile) {
      const int64_t rows = std::min(kTile, count - j0);
      for (int64_t j = 0; j < rows; ++j) src[j] = row(j0 + j);
      for (int64_t c0 = r.begin(); c0 < r.end(); c0 += kTile) {
        const int64_t c1 = std::min(r.end(), c0 + kTile);
        int64_t full_rows = 0, full_c1 = c0;
        if constexpr (sizeof(T) == 1 || sizeof(T) == 2) {
          full_rows = rows / kBlock * kBlock;
          full_c1 = c0 + (c1 - c0) / kBlock * kBlock;
          for (int64_t j = 0; j < full_rows; j += kBlock)
            for (int64_t c = c0; c < full_c1; c += kBlock) transpose_block(dst + c * count + j0 + j, count, src + j, c);
        }
        for (int64_t c = c0; c < c1; ++c)
          for (int64_t j = c < full_c1 ? full_rows : 0; j < rows; ++j) dst[c * count + j0 + j] = src[j][c];
      }
    }
  });
}

}  // namespace zimt::detail
