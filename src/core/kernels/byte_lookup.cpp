#include "zimt/kernels/byte_lookup.hpp"

#include <immintrin.h>

namespace zimt::kernels {

namespace {

// Table bytes 0-127 by the index's low seven bits from the first two
// registers, 128-255 from the other two; bit 7 picks between them. The tail
// under a mask (lanes past count neither read nor written).
__attribute__((target("avx512f,avx512bw,avx512vbmi"))) void byte_lookup_vbmi(int8_t* out, const uint8_t* index,
                                                                             int64_t count, const int8_t table[256]) {
  const __m512i t0 = _mm512_loadu_si512(table), t1 = _mm512_loadu_si512(table + 64);
  const __m512i t2 = _mm512_loadu_si512(table + 128), t3 = _mm512_loadu_si512(table + 192);
  for (int64_t i = 0; i < count; i += 64) {
    const __mmask64 lanes = count - i >= 64 ? ~__mmask64{0} : (__mmask64{1} << (count - i)) - 1;
    const __m512i x = _mm512_maskz_loadu_epi8(lanes, index + i);
    const __m512i low = _mm512_permutex2var_epi8(t0, x, t1);
    const __m512i high = _mm512_permutex2var_epi8(t2, x, t3);
    _mm512_mask_storeu_epi8(out + i, lanes, _mm512_mask_blend_epi8(_mm512_movepi8_mask(x), low, high));
  }
}

}  // namespace

void byte_lookup_portable(int8_t* __restrict out, const uint8_t* __restrict index, int64_t count,
                          const int8_t* __restrict table) {
  for (int64_t i = 0; i < count; ++i) out[i] = table[index[i]];
}

void byte_lookup(int8_t* out, const uint8_t* index, int64_t count, const int8_t table[256]) {
  static const bool vbmi =
      __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vbmi");
  if (vbmi)
    byte_lookup_vbmi(out, index, count, table);
  else
    byte_lookup_portable(out, index, count, table);
}

}  // namespace zimt::kernels
