// The AVX-512 VNNI sparse-input convolution (sparse_input.hpp). First each
// input position's nonzero channel pairs are listed: per pair (2j, 2j + 1)
// of input rows, 16 positions at a time, the two rows' values joined into
// int32 words (low half channel 2j), and each nonzero word appended to its
// position's list with the offset of pair j's weights within a tap. Then
// per output position, for each tap (kh, kw) that reads inside the image,
// every listed word of the position it reads is broadcast and meets the
// tap's packed weights of 16 output channels per vpdpwssd, in NB int32
// accumulators (O = 16·NB), stored as the position's row of out (P, O);
// or, where at most half the input positions hold a word, the other way
// round: each such position's words added onto the rows of the outputs
// that read it.
// GCC 12 reports its own _mm512_undefined_* placeholders (self-initialised
// on purpose) inside the convert intrinsics as (maybe-)uninitialized.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <algorithm>

#include "zimt/layers/sparse_input.hpp"

#define ZIMT_AVX512VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))

namespace zimt::sparse_input {

namespace {

constexpr int64_t kLanes = 16;     // output channels per accumulator (int32 lanes)
constexpr int64_t kMaxBlocks = 4;  // accumulators held in registers: O <= 64

bool available() {
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
}

bool handles(const Geometry& g) { return g.O % kLanes == 0 && g.O <= kLanes * kMaxBlocks; }

// count (H·W) and entries (H·W, pairs, 2): position p's count[p] nonzero
// words, in order of j, as (offset of pair j's weights, word). Returns the
// number of positions with at least one.
ZIMT_AVX512VNNI int64_t list_pairs(const int16_t* x, const Geometry& g, int32_t* count, int32_t* entries) {
  const int64_t HW = g.H * g.W, J = g.pairs();
  std::fill(count, count + HW, 0);
  int64_t nonempty = 0;
  alignas(64) int32_t words[kLanes];
  for (int64_t j = 0; j < J; ++j) {
    const int16_t* low = x + 2 * j * HW;
    const int16_t* high = 2 * j + 1 < g.C ? low + HW : nullptr;
    const auto offset = static_cast<int32_t>(j * g.O * 2);
    for (int64_t p0 = 0; p0 < HW; p0 += kLanes) {
      const auto lanes = static_cast<__mmask16>(HW - p0 >= kLanes ? 0xFFFF : (1u << (HW - p0)) - 1);
      __m512i word = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(lanes, low + p0));
      if (high != nullptr)
        word = _mm512_or_si512(
            word, _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(lanes, high + p0)), 16));
      auto nonzero = static_cast<uint32_t>(_mm512_test_epi32_mask(word, word));
      if (nonzero == 0) continue;
      _mm512_store_si512(words, word);
      for (; nonzero != 0; nonzero &= nonzero - 1) {
        const int lane = __builtin_ctz(nonzero);
        const int64_t p = p0 + lane;
        nonempty += count[p] == 0 ? 1 : 0;
        int32_t* entry = entries + (p * J + count[p]++) * 2;
        entry[0] = offset;
        entry[1] = words[lane];
      }
    }
  }
  return nonempty;
}

// a[b] += one listed word (entry: offset, word) times the tap's packed
// weights of output channels 16·b .. 16·b + 15.
template <int NB>
ZIMT_AVX512VNNI __attribute__((always_inline)) inline void add_word(__m512i (&a)[NB], const int16_t* tap,
                                                                    const int32_t* entry) {
  const __m512i word = _mm512_set1_epi32(entry[1]);
  const int16_t* w = tap + entry[0];
  for (int b = 0; b < NB; ++b) a[b] = _mm512_dpwssd_epi32(a[b], word, _mm512_loadu_si512(w + 2 * kLanes * b));
}

// sums (P, O) of every output position from the lists (list_pairs). A
// position's words go round kSets sets of accumulators, so that kSets
// vpdpwssd chains per 16 channels run at once (one chain waits on the
// instruction's latency); the sets are added at the end (modulo 2^32, as
// the lanes add).
template <int NB>
ZIMT_AVX512VNNI void position_sums(int32_t* sums, const int32_t* count, const int32_t* entries, const int16_t* packed,
                                   const Geometry& g) {
  constexpr int kSets = 4;
  const int64_t OH = g.OH(), OW = g.OW(), J = g.pairs(), tap_words = J * g.O * 2;
  for (int64_t oh = 0; oh < OH; ++oh)
    for (int64_t ow = 0; ow < OW; ++ow) {
      __m512i acc[kSets][NB];
      for (int set = 0; set < kSets; ++set)
        for (int b = 0; b < NB; ++b) acc[set][b] = _mm512_setzero_si512();
      for (int64_t kh = 0; kh < g.k; ++kh) {
        const int64_t ih = oh + kh - g.pad;
        if (ih < 0 || ih >= g.H) continue;
        for (int64_t kw = 0; kw < g.k; ++kw) {
          const int64_t iw = ow + kw - g.pad;
          if (iw < 0 || iw >= g.W) continue;
          const int64_t p = ih * g.W + iw;
          const int16_t* tap = packed + (kh * g.k + kw) * tap_words;
          const int32_t* entry = entries + p * J * 2;
          const int64_t n = count[p];
          int64_t i = 0;
          for (; i + kSets <= n; i += kSets) {
            add_word<NB>(acc[0], tap, entry + 2 * i);
            add_word<NB>(acc[1], tap, entry + 2 * i + 2);
            add_word<NB>(acc[2], tap, entry + 2 * i + 4);
            add_word<NB>(acc[3], tap, entry + 2 * i + 6);
          }
          // The rest (fewer than kSets), each into a set of its own.
          if (i < n) add_word<NB>(acc[0], tap, entry + 2 * i);
          if (i + 1 < n) add_word<NB>(acc[1], tap, entry + 2 * i + 2);
          if (i + 2 < n) add_word<NB>(acc[2], tap, entry + 2 * i + 4);
        }
      }
      int32_t* s = sums + (oh * OW + ow) * g.O;
      for (int b = 0; b < NB; ++b)
        _mm512_storeu_si512(s + kLanes * b, _mm512_add_epi32(_mm512_add_epi32(acc[0][b], acc[1][b]),
                                                             _mm512_add_epi32(acc[2][b], acc[3][b])));
    }
}

// The same sums from the input side, where few input positions hold a
// nonzero word (under 1 % of the MNIST CNN's conv2 errors in training): out
// cleared, then each such position's words added onto the rows of the k·k
// output positions that read it, in registers per row.
template <int NB>
ZIMT_AVX512VNNI void input_sums(int32_t* out, const int32_t* count, const int32_t* entries, const int16_t* packed,
                                const Geometry& g) {
  const int64_t OH = g.OH(), OW = g.OW(), J = g.pairs(), tap_words = J * g.O * 2;
  std::fill(out, out + OH * OW * g.O, 0);
  for (int64_t ih = 0; ih < g.H; ++ih)
    for (int64_t iw = 0; iw < g.W; ++iw) {
      const int64_t p = ih * g.W + iw, n = count[p];
      if (n == 0) continue;
      const int32_t* entry = entries + p * J * 2;
      for (int64_t kh = 0; kh < g.k; ++kh) {
        const int64_t oh = ih - kh + g.pad;
        if (oh < 0 || oh >= OH) continue;
        for (int64_t kw = 0; kw < g.k; ++kw) {
          const int64_t ow = iw - kw + g.pad;
          if (ow < 0 || ow >= OW) continue;
          int32_t* row = out + (oh * OW + ow) * g.O;
          const int16_t* tap = packed + (kh * g.k + kw) * tap_words;
          __m512i acc[NB];
          for (int b = 0; b < NB; ++b) acc[b] = _mm512_loadu_si512(row + kLanes * b);
          for (int64_t i = 0; i < n; ++i) add_word<NB>(acc, tap, entry + 2 * i);
          for (int b = 0; b < NB; ++b) _mm512_storeu_si512(row + kLanes * b, acc[b]);
        }
      }
    }
}

// From the output side (position_sums) unless at most half the input
// positions hold a nonzero word (input_sums).
template <int NB>
ZIMT_AVX512VNNI void sums_by_side(int32_t* out, const int32_t* count, const int32_t* entries, const int16_t* packed,
                                  const Geometry& g, int64_t nonempty) {
  if (2 * nonempty <= g.H * g.W)
    input_sums<NB>(out, count, entries, packed, g);
  else
    position_sums<NB>(out, count, entries, packed, g);
}

ZIMT_AVX512VNNI void sums(int32_t* out, const int16_t* x, const int16_t* packed, const Geometry& g, int32_t* scratch) {
  int32_t* count = scratch;
  int32_t* entries = count + g.H * g.W;
  const int64_t nonempty = list_pairs(x, g, count, entries);
  switch (g.O / kLanes) {
    case 1: sums_by_side<1>(out, count, entries, packed, g, nonempty); break;
    case 2: sums_by_side<2>(out, count, entries, packed, g, nonempty); break;
    case 3: sums_by_side<3>(out, count, entries, packed, g, nonempty); break;
    default: sums_by_side<4>(out, count, entries, packed, g, nonempty); break;
  }
}

}  // namespace

namespace detail {
constinit const Kernels avx512_kernels{"avx512", &available, &handles, &sums};
}  // namespace detail

}  // namespace zimt::sparse_input
