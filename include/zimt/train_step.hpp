#pragma once
// One training step and one evaluation batch, as functions of their
// arguments only: (model parameters, batch of u8 images + labels, input
// normalisation) -> loss, correct count, and for training the gradients in
// model.params.g. Every rounding inside is round-half-even (no randomness),
// so a step is the same for any thread count and after a resume; the
// optimizer's update (optim/) is a separate call on the gradients.
//
// Input normalisation, x = (pixel/255 - mean) / std as PyTorch's
// ToTensor + Normalize, with mean and std in Q32.32 (optim/q32.hpp, the io
// layer converts the config's reals once):
//   x·2^24 = round-half-even((pixel·2^32 - 255·mean) · 2^24 / (255·std)),
//   exact in __int128 (a 256-entry table per call), saturated at ±2^62 (only
//   reachable with std < 2^-30), then requantised per sample to int8
//   (quant.hpp: the smallest exponent that fits the sample's maximum).
#include <cstdint>

#include "zimt/arena.hpp"
#include "zimt/model.hpp"
#include "zimt/tensor.hpp"

namespace zimt {

struct InputNorm {
  int64_t mean_q32 = 0;                // mean of pixel/255, Q32.32
  int64_t std_q32 = int64_t{1} << 32;  // std of pixel/255, Q32.32, > 0
};

// images (N, C·H·W) u8 -> x (N,C,H,W) int8 with per-sample exponents.
void normalize_input(Act& x, const uint8_t* images, const InputNorm& norm);

struct StepResult {
  int64_t loss_sum_q16 = 0;  // Σ over the batch of the per-sample loss, Q16 (softmax_ce.hpp)
  int64_t correct = 0;       // samples whose argmax equals the label
  int64_t saturated = 0;     // LayerNorm outputs saturated at ±127 (layernorm.hpp)
};

// Forward + backward on one batch: writes every gradient of model.params
// (ParamSet::g, g_exp: dL/dw of the batch-mean loss). labels[n] < classes.
// Uses `arena` for activations; it is reset first.
StepResult train_step(Model& model, const uint8_t* images, const uint8_t* labels, int64_t batch, const InputNorm& norm,
                      Arena& arena);

// Forward only. pred[n] (may be nullptr) gets the argmax class, loss_q16[n]
// (may be nullptr) the per-sample loss in Q16.
StepResult eval_batch(const Model& model, const uint8_t* images, const uint8_t* labels, int64_t batch,
                      const InputNorm& norm, Arena& arena, int32_t* pred = nullptr, int64_t* loss_q16 = nullptr);

}  // namespace zimt
