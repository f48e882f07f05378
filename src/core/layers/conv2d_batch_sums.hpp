#pragma once
// The batch sums of a convolution's gradients, for conv2d_backward and
// conv2d_pooled_backward alike: their alignment (align_batch, quant.hpp:
// sample n's sums join dW and db shifted by the shifts written here) and
// the threads that share them.
#include <tbb/global_control.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "zimt/batch_reducer.hpp"
#include "zimt/numerics.hpp"
#include "zimt/quant.hpp"

namespace zimt::detail {

// dW[o,kk] = Σ_n 2^(dout_exp[n] + in_exp[n]) Σ_p dout[n,o,p]·col[n,kk,p];
// |dout·x| < 2^15·2^x_bits (x_bits 8 for int8, 16 for int16 inputs), so a
// sample's partial sum over P positions is < 2^(15 + x_bits + ceil_log2 P).
// x_bits is one bit above the tight magnitude_bits<X>() (|x| <= 127 < 2^7):
// this bound sets align_batch's shift limit, so tightening it would change
// how widely spread batches round (docs/design.md, "Bounds"). sample_exp:
// scratch of batch entries. Returns dW's exponent.
template <class X>
int32_t conv2d_weight_shifts(const int32_t* dout_exp, const int32_t* in_exp, int64_t batch, int64_t P,
                             int32_t* sample_exp, int32_t* shift, const BatchReducer& reducer) {
  constexpr int x_bits = magnitude_bits<X>() + 1;
  for (int64_t n = 0; n < batch; ++n) sample_exp[n] = dout_exp[n] + in_exp[n];
  return align_batch(sample_exp, batch, product_sum_bits(magnitude_bits<int16_t>(), x_bits, static_cast<uint64_t>(P)),
                     shift, reducer);
}

// db[o] = Σ_n 2^dout_exp[n] Σ_p dout[n,o,p]; a sample's sum is
// < 2^(16 + ceil_log2 P). Returns db's exponent.
inline int32_t conv2d_bias_shifts(const int32_t* dout_exp, int64_t batch, int64_t P, int32_t* shift,
                                  const BatchReducer& reducer) {
  return align_batch(dout_exp, batch, 16 + ceil_log2(static_cast<uint64_t>(P)), shift, reducer);
}

// The threads that can run: the arena's, capped by a global_control limit.
inline int64_t usable_threads() {
  return static_cast<int64_t>(
      std::min<size_t>(static_cast<size_t>(tbb::this_task_arena::max_concurrency()),
                       tbb::global_control::active_value(tbb::global_control::max_allowed_parallelism)));
}

}  // namespace zimt::detail
