#pragma once
// Requantisation and exponent alignment: the only places where precision is
// given up, each with its rounding rule (zimt/numerics.hpp) stated
// (docs/design.md, "Rounding" and "Bounds").
#include <cstdint>
#include <vector>

#include "zimt/batch_reducer.hpp"
#include "zimt/numerics.hpp"

namespace zimt {

// One sample's exact accumulators (real = acc[i] * 2^acc_exp) to int8 /
// int16 mantissas on one exponent, which is returned.
// Rule: the SMALLEST shift s >= 0 such that every round_half_even(acc / 2^s)
// fits [-127, 127] (resp. [-32767, 32767]); never a left shift, so a sample
// whose values already fit is copied exactly. Round-half-even: unbiased on
// ties, never changes a sign, keeps exact zeros exact (0 stays 0). All-zero
// input returns acc_exp and zeros.
//
// Both round half-even, except that a NONZERO value that would round to 0
// becomes ±1 (its sign kept): requantisation never changes a sign, and
// exact zeros stay exact. Cost: those entries are off by up to one step
// instead of half a step, |q·2^e - acc| <= max(2^e/2, 2^e - |acc|).
// requantize_i16 : ERROR SIGNALS. A flushed error freezes every weight it
//                  feeds under the optimizer's rule (docs/design.md,
//                  "Update rules"); the bias is
//                  below 2^-15 of the sample's largest error.
// requantize_i8  : ACTIVATIONS. The sign of an activation decides the ReLU
//                  mask of the backward pass (relu_backward reads out > 0)
//                  and whether it contributes to a weight gradient at all;
//                  plain rounding would turn every pre-activation in
//                  (0, step/2] into a dead unit (measured effect:
//                  docs/design.md, "Rounding"). With the sign kept, the
//                  straight-through mask is the sign of the exact value
//                  before rounding.
int32_t requantize_i8(const int64_t* acc, int64_t count, int32_t acc_exp, int8_t* out);
int32_t requantize_i16(const int64_t* acc, int64_t count, int32_t acc_exp, int16_t* out);
// The same rule on int32 accumulators (GEMMs whose sums fit int32): the same
// values give the same result as the int64 versions.
int32_t requantize_i8(const int32_t* acc, int64_t count, int32_t acc_exp, int8_t* out);
int32_t requantize_i16(const int32_t* acc, int64_t count, int32_t acc_exp, int16_t* out);
// The one of the two that matches the output type (layers with both outputs).
template <class A>
int32_t requantize(const A* acc, int64_t count, int32_t acc_exp, int8_t* out) {
  return requantize_i8(acc, count, acc_exp, out);
}
template <class A>
int32_t requantize(const A* acc, int64_t count, int32_t acc_exp, int16_t* out) {
  return requantize_i16(acc, count, acc_exp, out);
}

// requantize_i8 / requantize_i16 of int32 accumulators acc (rows, cols)
// plus a per-row addend add[r] (nullptr: none; every sum fits int32, the
// caller's bound), then with `relu` every value that is not > 0 set to 0:
// the values of adding, requantising and a ReLU (relu.hpp) in turn, in two
// passes over acc (a convolution's bias, requantisation and ReLU).
int32_t requantize_rows(const int32_t* acc, int64_t rows, int64_t cols, const int32_t* add, bool relu, int32_t acc_exp,
                        int8_t* out);
int32_t requantize_rows(const int32_t* acc, int64_t rows, int64_t cols, const int32_t* add, bool relu, int32_t acc_exp,
                        int16_t* out);

// The same max rule rounded half-even to the NEAREST int8 (shift_round_even):
// a nonzero value below half a step becomes 0. For means (average pooling),
// whose small values carry no sign decision. Returns the exponent.
int32_t requantize_i8_nearest(const int64_t* acc, int64_t count, int32_t acc_exp, int8_t* out);

// The max rule's shift: the smallest s >= 0 with shift_round_even(max_abs,
// s) <= limit, for max_abs < 2^63 (rounding is monotone in |x|, so the
// largest magnitude decides for the whole sample).
int shift_to_fit(uint64_t max_abs, int64_t limit);

// Aligning per-sample contributions to one sum over the batch (weight and
// bias gradients). Sample n's partial sum p_n has exponent sample_exp[n] and
// |p_n| < 2^term_bits (an a-priori bound from the operand types). The batch
// sum is  sum_n p_n * 2^shift[n]  on exponent `exp`.
//   - Normally exp = min_n sample_exp[n] and every shift is >= 0: the sum is
//     EXACT (left shifts in int64).
//   - The shifts are bounded so that sum_n |p_n| * 2^shift[n] < 2^62 for any
//     order of summation: max shift = 62 - term_bits - ceil_log2(batch). If
//     the exponents spread wider than that, exp is raised to
//     max(sample_exp) - max_shift and the samples below it get a negative
//     shift, applied with round-half-even (they are < 2^-(max_shift) of the
//     largest contribution's scale).
// When the batch is split across processes (batch_reducer.hpp), exp and the
// shift limit come from the whole batch's extent (`reducer` combines every
// process's), so each process's local samples get the shifts they would get
// in one process; shift[] covers the local samples only.
struct BatchAlignment {
  int32_t exp = 0;
  std::vector<int32_t> shift;
};
BatchAlignment align_batch(const int32_t* sample_exp, int64_t batch, int term_bits,
                           const BatchReducer& reducer = single_process());
// The same rule into caller-owned storage: writes shift[0..batch) and
// returns exp (the step's layers use per-thread scratch, scratch.hpp).
int32_t align_batch(const int32_t* sample_exp, int64_t batch, int term_bits, int32_t* shift,
                    const BatchReducer& reducer = single_process());

// The exponent on which a (|a| < 2^bits_a, exponent e_a) and b (|b| < 2^bits_b,
// exponent e_b) are added: min(e_a, e_b), so both join by exact left shifts,
// raised only as far as needed to keep each shifted term below 2^61 (then the
// term with the smaller exponent is rounded half-even by apply_shift).
int32_t common_exponent(int32_t e_a, int bits_a, int32_t e_b, int bits_b);

// p * 2^shift (shift >= 0 exact; shift < 0 rounded half-even). Inline: the
// layers call it per element in loops whose shift is fixed, which the
// compiler then splits on the shift's sign and vectorises.
inline int64_t apply_shift(int64_t p, int32_t shift) {
  if (shift >= 0) return p * (int64_t{1} << shift);  // callers bound |p| * 2^shift < 2^62
  return shift_round_even(p, -shift);
}

// total[i] += apply_shift(p[i], shift) for i < count: a run of samples'
// weight-gradient partial joining the batch sum (conv2d, linear), with the
// shift's sign tested once and the left shift in vector lanes.
void add_shifted(int64_t* total, const int64_t* p, int64_t count, int32_t shift);

// v[i] = apply_shift(v[i], shift) for i < count, in place: the first run of
// a weight-gradient sum, which then needs no zeroed total to join.
void shift_all(int64_t* v, int64_t count, int32_t shift);

}  // namespace zimt
