#pragma once
// One training step and one evaluation batch, as functions of their
// arguments only: (model parameters, optimizer, batch of u8 images + labels,
// input normalisation, seed, step index) -> the updated weights and the
// step's counters. Every rounding inside the forward and backward passes is
// round-half-even (no randomness), and the optimizer's randomness is a
// function of (seed, step), so a step is the same for any thread count and
// after a resume.
//
// Input normalisation, x = (pixel/255 - mean) / std as PyTorch's
// ToTensor + Normalize, with mean and std in Q32.32 (optim/q32.hpp, the io
// layer converts the config's reals once):
//   x·2^24 = round-half-even((pixel·2^32 - 255·mean) · 2^24 / (255·std)),
//   exact in __int128 (a 256-entry table per call), saturated at ±2^62 (only
//   reachable with std < 2^-30), then requantised per sample to int8
//   (quant.hpp: the smallest exponent that fits the sample's maximum).
#include <array>
#include <cstdint>

#include "zimt/arena.hpp"
#include "zimt/batch_reducer.hpp"
#include "zimt/model.hpp"
#include "zimt/optim/optimizer.hpp"
#include "zimt/optim/step_stats.hpp"
#include "zimt/tensor.hpp"

namespace zimt {

struct InputNorm {
  int64_t mean_q32 = 0;                // mean of pixel/255, Q32.32
  int64_t std_q32 = int64_t{1} << 32;  // std of pixel/255, Q32.32, > 0
};

// x·2^24 for every pixel value (the table above; non-decreasing in the pixel).
std::array<int64_t, 256> input_table(const InputNorm& norm);

// images (N, C·H·W) u8 -> x (N,C,H,W) int8 with per-sample exponents: per
// sample, requantize_i8 of its pixels' table values with exponent -24.
void normalize_input(Act& x, const uint8_t* images, const InputNorm& norm);

// What the forward pass measured on one batch.
struct BatchCounters {
  int64_t loss_sum_q16 = 0;   // Σ over the batch of the per-sample loss, Q16 (softmax_ce.hpp)
  int64_t correct = 0;        // samples whose argmax equals the label
  int64_t act_saturated = 0;  // LayerNorm outputs saturated at ±127 (layernorm.hpp)
};

// What one training step did: the batch's counters (before the update) and
// the optimizer's.
struct StepCounters : BatchCounters {
  optim::StepStats update;
};

// Where a step's wall time went, in steady_clock nanoseconds, added to on
// each step it is passed to (bench_model_step --profile): per layer
// (model.hpp's LayerNanos, sized by the step), the input normalisation, the
// loss and its error signal, and the optimizer's update.
struct StepProfile {
  LayerNanos forward_ns, backward_ns;
  int64_t input_ns = 0, loss_ns = 0, update_ns = 0;
};

// The training step: forward, loss, backward, update. images (N, C·H·W) u8,
// labels[n] < classes; `step` the 0-based step index the optimizer's
// randomness is drawn for. Uses `arena` for activations; it is reset first.
// With a `reducer` spanning several processes, the N samples are this
// process's share of the global batch: the gradients and counters are the
// whole batch's on every process, so each applies the same update
// (batch_reducer.hpp). Every process calls it once per step, also with N = 0.
StepCounters train_step(Model& model, optim::Optimizer& optimizer, const uint8_t* images, const uint8_t* labels,
                        int64_t batch, const InputNorm& norm, uint64_t seed, uint64_t step, Arena& arena,
                        StepProfile* profile = nullptr, const BatchReducer& reducer = single_process());

// The step without the update: forward, loss, backward. Overwrites every
// gradient of model.params (ParamSet::g, g_exp: dL/dw of the batch-mean loss)
// and returns the counters, both of the whole batch that `reducer` spans.
BatchCounters compute_gradients(Model& model, const uint8_t* images, const uint8_t* labels, int64_t batch,
                                const InputNorm& norm, Arena& arena, StepProfile* profile = nullptr,
                                const BatchReducer& reducer = single_process());

// The working memory of eval_batch, kept between calls: the batch (input,
// labels, predictions) and the forward-only pass's arenas (model.hpp).
struct EvalBuffers {
  Arena batch;
  InferenceArenas layers;
};

// Forward only (model_infer: no activation kept, no error signal, no
// gradient). pred[n] (may be nullptr) gets the argmax class, loss_q16[n]
// (may be nullptr) the per-sample loss in Q16. Every sample's results depend
// on that sample alone, not on the batch it is evaluated in.
BatchCounters eval_batch(const Model& model, const uint8_t* images, const uint8_t* labels, int64_t batch,
                         const InputNorm& norm, EvalBuffers& buffers, int32_t* pred = nullptr,
                         int64_t* loss_q16 = nullptr);

}  // namespace zimt
