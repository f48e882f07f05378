#pragma once
// Shared by linear and conv2d: joining a bias onto one sample's accumulators.
#include <cstdint>

namespace zimt::detail {

// acc is (channels, positions) on exponent acc_exp; adds b[c] * 2^b_exp to
// every position of channel c, on the common_exponent of the two (quant.hpp;
// exact unless the scales are > 2^40 apart). Returns the new exponent.
int32_t join_bias(int64_t* acc, int64_t channels, int64_t positions, int32_t acc_exp, const int16_t* b, int32_t b_exp);

// The same join for int32 accumulators, as an int32 addend per channel on
// acc_exp (requantize_rows adds them), when join_bias would keep acc_exp (no
// accumulator shifted) and every sum fits int32: then acc + addend are
// join_bias's values exactly. Returns false otherwise (the caller joins in
// int64). acc_bound >= every |acc| (e.g. a GEMM's k·max|a|·max|b|): the
// accumulators are scanned only when the bound is too loose to show that
// the sums fit.
bool bias_addends_in_int32(int32_t* addend, const int32_t* acc, int64_t channels, int64_t positions, int32_t acc_exp,
                           const int16_t* b, int32_t b_exp, int64_t acc_bound);

}  // namespace zimt::detail
