#pragma once
// Softmax cross-entropy on int8 logits (N,K) with per-sample exponents, in
// fixed point.
//   exp: 2^x by a 257-entry table of 2^(-j/256) (Q30) with linear
//        interpolation (relative error < 1e-6); probabilities in Q48.
//   log: integer log2 by repeated squaring (24 fractional bits) times ln 2.
// The loss is the batch MEAN of -log softmax(z)[label] (as PyTorch's
// CrossEntropyLoss), so dL/dz = (softmax(z) - onehot(label)) / N.
#include <cstdint>

#include "zimt/tensor.hpp"

namespace zimt {

// Loss values are fixed point: real loss = value / 2^kLossFracBits.
constexpr int kLossFracBits = 16;

// Per sample: loss_q (may be nullptr) gets -log softmax(z)[label] in Q16,
// pred (may be nullptr) the argmax of the logits (first maximum on ties).
// Returns the SUM of the per-sample losses in Q16. labels[n] in [0, K).
int64_t softmax_ce_forward(const Act& logits, const int32_t* labels, int64_t* loss_q, int32_t* pred);

// dlogits (N,K) = (softmax(z) - onehot(label)) / N, requantised per sample to
// int16 (round-half-even, quant.hpp). Exact zeros cannot occur in float here;
// an entry is 0 only where p < 2^-48 or below the sample's int16 step.
void softmax_ce_backward(Err& dlogits, const Act& logits, const int32_t* labels);
// The same for logits that are one process's share of a global batch of
// `global_batch` samples (batch_reducer.hpp): the mean is over the whole batch.
void softmax_ce_backward(Err& dlogits, const Act& logits, const int32_t* labels, int64_t global_batch);

}  // namespace zimt
