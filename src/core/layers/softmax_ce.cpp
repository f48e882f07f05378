#include "zimt/layers/softmax_ce.hpp"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <cassert>

#include "zimt/numerics.hpp"
#include "zimt/quant.hpp"
#include "zimt/scratch.hpp"

namespace zimt {

namespace {

// 2^(-j/256) in Q30 for j = 0..256, round-to-nearest (generated offline;
// tests/core/test_softmax_ce.cpp checks every entry against exp2).
constexpr uint32_t kExp2Table[257] = {
    1073741824, 1070838486, 1067942999, 1065055341, 1062175491, 1059303428, 1056439131, 1053582579, 1050733751,
    1047892626, 1045059183, 1042233401, 1039415261, 1036604740, 1033801819, 1031006477, 1028218693, 1025438448,
    1022665720, 1019900489, 1017142735, 1014392438, 1011649578, 1008914134, 1006186087, 1003465416, 1000752102,
    998046124,  995347464,  992656100,  989972014,  987295185,  984625594,  981963222,  979308048,  976660054,
    974019220,  971385527,  968758955,  966139485,  963527098,  960921775,  958323496,  955732243,  953147997,
    950570738,  948000448,  945437108,  942880699,  940331203,  937788600,  935252872,  932724001,  930201967,
    927686753,  925178340,  922676710,  920181844,  917693724,  915212331,  912737649,  910269657,  907808339,
    905353676,  902905651,  900464244,  898029440,  895601218,  893179563,  890764456,  888355878,  885953814,
    883558244,  881169153,  878786521,  876410331,  874040567,  871677210,  869320244,  866969651,  864625413,
    862287515,  859955938,  857630665,  855311680,  852998965,  850692504,  848392279,  846098274,  843810471,
    841528855,  839253408,  836984114,  834720956,  832463917,  830212982,  827968132,  825729353,  823496627,
    821269938,  819049271,  816834607,  814625932,  812423229,  810226483,  808035676,  805850792,  803671817,
    801498734,  799331526,  797170178,  795014675,  792865000,  790721137,  788583072,  786450787,  784324269,
    782203500,  780088465,  777979150,  775875538,  773777614,  771685363,  769598769,  767517817,  765442492,
    763372778,  761308661,  759250125,  757197155,  755149737,  753107854,  751071493,  749040637,  747015274,
    744995386,  742980960,  740971982,  738968435,  736970306,  734977579,  732990241,  731008277,  729031671,
    727060411,  725094480,  723133865,  721178552,  719228525,  717283772,  715344277,  713410026,  711481005,
    709557200,  707638598,  705725183,  703816941,  701913860,  700015924,  698123120,  696235434,  694352853,
    692475362,  690602947,  688735596,  686873293,  685016026,  683163781,  681316545,  679474303,  677637043,
    675804750,  673977412,  672155015,  670337545,  668524990,  666717336,  664914570,  663116678,  661323648,
    659535466,  657752119,  655973594,  654199878,  652430958,  650666822,  648907455,  647152846,  645402981,
    643657847,  641917433,  640181724,  638450708,  636724373,  635002706,  633285695,  631573326,  629865587,
    628162466,  626463950,  624770026,  623080683,  621395908,  619715688,  618040012,  616368866,  614702239,
    613040119,  611382493,  609729349,  608080675,  606436459,  604796689,  603161352,  601530438,  599903933,
    598281827,  596664106,  595050760,  593441776,  591837143,  590236848,  588640881,  587049229,  585461881,
    583878825,  582300049,  580725543,  579155293,  577589290,  576027521,  574469975,  572916640,  571367506,
    569822560,  568281792,  566745190,  565212742,  563684439,  562160268,  560640218,  559124278,  557612438,
    556104685,  554601009,  553101399,  551605844,  550114332,  548626854,  547143398,  545663953,  544188508,
    542717053,  541249576,  539786068,  538326517,  536870912,
};

constexpr int kProbBits = 48;                            // probabilities in Q48
constexpr int kXBits = 24;                               // exponent arguments in Q24
constexpr uint64_t kLog2eQ30 = 1549082005;               // round(log2(e) · 2^30)
constexpr uint64_t kLn2Q32 = 2977044472;                 // round(ln(2) · 2^32)
constexpr int64_t kMaxX = int64_t{kProbBits} << kXBits;  // 2^-48: below one Q48 unit

// 2^(-x / 2^24) in Q48 for x >= 0: table + linear interpolation on the low
// 16 bits of the fraction (relative error < 1e-6), then the integer part as
// a round-half-even shift.
uint64_t exp2_neg_q48(int64_t x) {
  if (x >= kMaxX) return 0;
  const int ip = static_cast<int>(x >> kXBits);
  const uint64_t f = static_cast<uint64_t>(x) & ((uint64_t{1} << kXBits) - 1);
  const uint64_t j = f >> 16, r = f & 0xFFFF;
  const uint64_t hi = kExp2Table[j], lo = kExp2Table[j + 1];
  const uint64_t v = hi - shift_round_half_up((hi - lo) * r, 16);  // Q30
  return static_cast<uint64_t>(shift_round_even(static_cast<int64_t>(v << (kProbBits - 30)), ip));
}

// (d · 2^e) · log2(e) in Q24, for d >= 0, saturated at kMaxX.
int64_t scaled_log2e(int64_t d, int32_t e) {
  if (d == 0) return 0;
  const int64_t prod = d * static_cast<int64_t>(kLog2eQ30);  // < 2^39 (d <= 254)
  const int32_t s = e + kXBits - 30;                         // Q30 -> Q24, times 2^e
  if (s <= 0) return shift_round_even(prod, -s);
  if (s > 23 || (prod << s) >= kMaxX) return kMaxX;
  return prod << s;
}

// d · 2^e in Q24 (d >= 0), saturated at 2^62 (an absurd logit scale).
int64_t to_q24(int64_t d, int32_t e) {
  const int32_t s = e + kXBits;
  if (s <= 0) return shift_round_even(d, -s);
  if (bit_width_abs(d) + s > 62) return int64_t{1} << 62;
  return d << s;
}

// log2(v / 2^kProbBits) in Q24 for v >= 2^kProbBits (v is a sum with a term
// equal to 1): integer part from the bit width, fraction by repeated
// squaring of the mantissa normalised to [1, 2) in Q62.
int64_t log2_q24(uint64_t v) {
  const int top = 63 - __builtin_clzll(v);
  int64_t result = int64_t{top - kProbBits} << kXBits;
  uint64_t y = top <= 62 ? v << (62 - top) : v >> (top - 62);  // Q62 in [1, 2)
  for (int bit = kXBits - 1; bit >= 0; --bit) {
    y = static_cast<uint64_t>((static_cast<u128>(y) * y) >> 62);  // y^2 in [1, 4)
    if (y >= (uint64_t{1} << 63)) {
      result += int64_t{1} << bit;
      y >>= 1;
    }
  }
  return result;
}

struct SampleSoftmax {
  uint64_t* e = nullptr;  // exp(z_i - max z) in Q48, k entries (thread scratch)
  uint64_t sum = 0;       // Σ e (>= 2^48)
  int8_t max = 0;
  int32_t argmax = 0;
};

void softmax_sample(SampleSoftmax& s, const int8_t* z, int64_t k, int32_t exp) {
  s.e = thread_scratch<uint64_t>(ScratchSlot::body1, k);
  s.max = z[0];
  s.argmax = 0;
  for (int64_t i = 1; i < k; ++i)
    if (z[i] > s.max) {
      s.max = z[i];
      s.argmax = static_cast<int32_t>(i);
    }
  s.sum = 0;
  for (int64_t i = 0; i < k; ++i) {
    s.e[static_cast<size_t>(i)] = exp2_neg_q48(scaled_log2e(s.max - z[i], exp));
    s.sum += s.e[static_cast<size_t>(i)];  // <= k · 2^48: no overflow for k < 2^15
  }
}

}  // namespace

// logits (N,K), labels (N) -> loss_q (N), pred (N); returns Σ loss_q
int64_t softmax_ce_forward(const Act& logits, const int32_t* labels, int64_t* loss_q, int32_t* pred) {
  assert(logits.shape.rank == 2 && logits.shape[1] < (int64_t{1} << 15));
  const int64_t batch = logits.batch(), k = logits.shape[1];
  int64_t* losses = thread_scratch<int64_t>(ScratchSlot::caller0, batch);
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, batch), [&](const tbb::blocked_range<int64_t>& r) {
    SampleSoftmax s;
    for (int64_t n = r.begin(); n < r.end(); ++n) {
      const int8_t* z = logits.sample(n);
      softmax_sample(s, z, k, logits.exp[n]);
      assert(labels[n] >= 0 && labels[n] < k);
      // -log p_y = ln(Σ e) + (max - z_y)·2^e, in Q24 then rounded to Q16.
      const int64_t ln_sum =
          static_cast<int64_t>(shift_round_half_up(static_cast<u128>(log2_q24(s.sum)) * kLn2Q32, 32));
      const int64_t q24 = ln_sum + to_q24(s.max - z[labels[n]], logits.exp[n]);
      losses[n] = shift_round_even(q24, kXBits - kLossFracBits);
      if (pred != nullptr) pred[n] = s.argmax;
    }
  });
  int64_t total = 0;
  for (int64_t n = 0; n < batch; ++n) {
    total += losses[n];
    if (loss_q != nullptr) loss_q[n] = losses[n];
  }
  return total;
}

// logits (N,K), labels (N) -> dlogits (N,K)
void softmax_ce_backward(Err& dlogits, const Act& logits, const int32_t* labels) {
  softmax_ce_backward(dlogits, logits, labels, logits.batch());
}

// logits (N,K), labels (N) -> dlogits (N,K); N <= global_batch
void softmax_ce_backward(Err& dlogits, const Act& logits, const int32_t* labels, int64_t global_batch) {
  assert(dlogits.shape == logits.shape && logits.batch() <= global_batch);
  const int64_t batch = logits.batch(), k = logits.shape[1];
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, batch), [&](const tbb::blocked_range<int64_t>& r) {
    SampleSoftmax s;
    int64_t* g = thread_scratch<int64_t>(ScratchSlot::body0, k);
    for (int64_t n = r.begin(); n < r.end(); ++n) {
      softmax_sample(s, logits.sample(n), k, logits.exp[n]);
      for (int64_t i = 0; i < k; ++i) {
        // p_i in Q48, round-half-even; then (p - onehot) · 2^14 / N on exponent -62.
        const u128 num = static_cast<u128>(s.e[static_cast<size_t>(i)]) << kProbBits;
        const u128 p = div_round_even_u128(num, s.sum);
        const int64_t diff = static_cast<int64_t>(p) - (i == labels[n] ? int64_t{1} << kProbBits : 0);
        g[i] = div_round_even(diff * (int64_t{1} << (62 - kProbBits)), global_batch);
      }
      dlogits.exp[n] = requantize_i16(g, k, -62, dlogits.sample(n));
    }
  });
}

}  // namespace zimt
