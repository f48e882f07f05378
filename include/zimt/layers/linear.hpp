#pragma once
// Fully connected layer: y = x·Wᵀ + b.
//   in (N,I) int8, out (N,O) int8 or int16, W (O,I) and b (O) in ParamSet.
// Forward: exact int64 accumulation, bias joined on common_exponent
// (quant.hpp), requantised per sample to the output type (quant.hpp:
// smallest shift, round-half-even keeping signs).
// Backward: din = dout·W exact in int64, requantised per sample to int16;
// dW = Σ_n dout_nᵀ x_n and db = Σ_n dout_n, exact int64, samples aligned with
// align_batch (quant.hpp) to one per-tensor g_exp.
#include <cstddef>
#include <cstdint>

#include "zimt/batch_reducer.hpp"
#include "zimt/param.hpp"
#include "zimt/tensor.hpp"

namespace zimt {

struct LinearSpec {
  int64_t in_features = 0;
  int64_t out_features = 0;
  size_t weight = 0;  // ParamSet tensor index, shape (out_features, in_features)
  bool has_bias = false;
  size_t bias = 0;  // ParamSet tensor index, shape (out_features); used if has_bias
};

Shape linear_out_shape(const Shape& in, const LinearSpec& spec);
// in and out: int8 or int16, any pair (int16 outputs before a ReLU and a
// LayerNorm, int16 inputs from a LayerNorm's int16 output: model.hpp).
// relu: out = max(0, the product), applied per sample as it is written (the
// same bits as relu_forward after).
void linear_forward(const Activation& out, const Activation& in, const ParamSet& params, const LinearSpec& spec,
                    bool relu = false);
// din may be nullptr. Overwrites the gradients of spec.weight (and spec.bias)
// with this process's share of the batch sum, aligned over the whole batch
// that `reducer` spans (batch_reducer.hpp).
void linear_backward(Err* din, const Err& dout, const Activation& in, ParamSet& params, const LinearSpec& spec,
                     const BatchReducer& reducer = single_process());

}  // namespace zimt
