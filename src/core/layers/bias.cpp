#include "bias.hpp"

#include <algorithm>

#include "zimt/kernels/max_abs.hpp"
#include "zimt/numerics.hpp"
#include "zimt/quant.hpp"

namespace zimt::detail {

int32_t join_bias(int64_t* acc, int64_t channels, int64_t positions, int32_t acc_exp, const int16_t* b, int32_t b_exp) {
  uint64_t max_acc = 0;
  uint64_t max_b = 0;
  for (int64_t i = 0; i < channels * positions; ++i) max_acc = std::max(max_acc, abs_u64(acc[i]));
  for (int64_t c = 0; c < channels; ++c) max_b = std::max(max_b, abs_u64(b[c]));
  if (max_b == 0) return acc_exp;
  const int bits_acc = max_acc == 0 ? 0 : 64 - __builtin_clzll(max_acc);
  const int bits_b = 64 - __builtin_clzll(max_b);
  const int32_t e = common_exponent(acc_exp, bits_acc, b_exp, bits_b);
  for (int64_t c = 0; c < channels; ++c) {
    const int64_t bias = apply_shift(b[c], b_exp - e);
    int64_t* row = acc + c * positions;
    for (int64_t p = 0; p < positions; ++p) row[p] = apply_shift(row[p], acc_exp - e) + bias;
  }
  return e;
}

bool bias_addends_in_int32(int32_t* addend, const int32_t* acc, int64_t channels, int64_t positions, int32_t acc_exp,
                           const int16_t* b, int32_t b_exp, int64_t acc_bound) {
  uint64_t max_b = 0;
  for (int64_t c = 0; c < channels; ++c) max_b = std::max(max_b, abs_u64(b[c]));
  if (max_b == 0) {
    std::fill(addend, addend + channels, 0);
    return true;
  }
  const int bits_b = 64 - __builtin_clzll(max_b);
  // For accumulators below 2^32 the accumulator term of common_exponent stays
  // below acc_exp, so whether join_bias keeps acc_exp does not depend on
  // their size: 32 bits decide it for all of them.
  if (common_exponent(acc_exp, 32, b_exp, bits_b) != acc_exp) return false;
  uint64_t max_bias = 0;
  for (int64_t c = 0; c < channels; ++c) max_bias = std::max(max_bias, abs_u64(apply_shift(b[c], b_exp - acc_exp)));
  constexpr uint64_t kInt32Max = 2147483647;
  uint64_t max_acc = static_cast<uint64_t>(acc_bound);
  if (max_acc + max_bias > kInt32Max) max_acc = static_cast<uint64_t>(kernels::max_abs(acc, channels * positions));
  if (max_acc + max_bias > kInt32Max) return false;
  for (int64_t c = 0; c < channels; ++c) addend[c] = static_cast<int32_t>(apply_shift(b[c], b_exp - acc_exp));
  return true;
}

}  // namespace zimt::detail
