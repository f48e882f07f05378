#include "zimt/train_step.hpp"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <array>
#include <cassert>

#include "zimt/kernels/byte_lookup.hpp"
#include "zimt/layers/softmax_ce.hpp"
#include "zimt/quant.hpp"
#include "zimt/scratch.hpp"

namespace zimt {

namespace {

constexpr int kInputFracBits = 24;
constexpr i128 kInputLimit = static_cast<i128>(1) << 62;

// The labels as int32 (what softmax_ce reads), from the arena.
const int32_t* int_labels(const uint8_t* labels, int64_t batch, int64_t classes, Arena& arena) {
  int32_t* out = arena.alloc<int32_t>(static_cast<size_t>(batch));
  for (int64_t n = 0; n < batch; ++n) {
    assert(labels[n] < classes);
    (void)classes;
    out[n] = labels[n];
  }
  return out;
}

// Normalises the batch and runs the model; everything lands in `acts`.
void forward(ModelActs& acts, const Model& model, const uint8_t* images, int64_t batch, const InputNorm& norm,
             Arena& arena, StepProfile* profile) {
  const int64_t t0 = profile ? steady_now_ns() : 0;
  Act x = make_tensor<int8_t>(arena, model_input_shape(model, batch));
  normalize_input(x, images, norm);
  if (profile) profile->input_ns += steady_now_ns() - t0;
  model_forward(acts, model, x, arena, profile ? &profile->forward_ns : nullptr);
}

// Sizes the per-layer entries of a profile to the model (kept if they fit).
void size_profile(StepProfile* profile, const Model& model) {
  if (!profile) return;
  profile->forward_ns.resize(model.layers.size(), 0);
  profile->backward_ns.resize(model.layers.size(), 0);
}

// The batch's loss sum and correct count; pred gets the argmax classes,
// loss_q16 (may be nullptr) the per-sample losses.
BatchCounters loss_counters(const Act& logits, const int32_t* y, int32_t* pred, int64_t* loss_q16) {
  BatchCounters counters;
  counters.loss_sum_q16 = softmax_ce_forward(logits, y, loss_q16, pred);
  for (int64_t n = 0; n < logits.batch(); ++n) counters.correct += pred[n] == y[n];
  return counters;
}

}  // namespace

// x·2^24 for every pixel value (train_step.hpp).
std::array<int64_t, 256> input_table(const InputNorm& norm) {
  assert(norm.std_q32 > 0);
  std::array<int64_t, 256> table{};
  const i128 den = static_cast<i128>(255) * norm.std_q32;  // < 2^72
  for (int p = 0; p < 256; ++p) {
    // |p·2^32 - 255·mean| < 2^40 + 2^71; times 2^24: < 2^96.
    const i128 num = (static_cast<i128>(p) * (static_cast<i128>(1) << 32) - static_cast<i128>(255) * norm.mean_q32) *
                     (static_cast<i128>(1) << kInputFracBits);
    i128 v = div_round_even_i128(num, den);
    if (v > kInputLimit) v = kInputLimit;
    if (v < -kInputLimit) v = -kInputLimit;
    table[static_cast<size_t>(p)] = static_cast<int64_t>(v);
  }
  return table;
}

// images (N, C·H·W) u8 -> x (N,C,H,W): per sample, requantize_i8 of its
// pixels' table values. The table does not decrease with the pixel value
// (std > 0), so the largest |value| lies at the sample's smallest or largest
// pixel, and the table's run between them has the same largest |value|:
// requantised, that run gives every pixel's int8 value and the sample's
// exponent, which a byte lookup then spreads (instead of an int64 value per
// pixel, and a pass for its largest |value|).
void normalize_input(Act& x, const uint8_t* images, const InputNorm& norm) {
  const std::array<int64_t, 256> table = input_table(norm);
  assert(std::is_sorted(table.begin(), table.end()));
  const int64_t m = x.sample_numel();
  assert(m > 0);
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, x.batch()), [&](const tbb::blocked_range<int64_t>& r) {
    int8_t lookup[256] = {};  // entries lo..hi set per sample
    for (int64_t n = r.begin(); n < r.end(); ++n) {
      const uint8_t* px = images + n * m;
      int8_t* out = x.sample(n);
      uint8_t lo = px[0], hi = px[0];
      for (int64_t i = 1; i < m; ++i) {
        lo = std::min(lo, px[i]);
        hi = std::max(hi, px[i]);
      }
      x.exp[n] = requantize_i8(table.data() + lo, hi - lo + 1, -kInputFracBits, lookup + lo);
      kernels::byte_lookup(out, px, m, lookup);
    }
  });
}

BatchCounters compute_gradients(Model& model, const uint8_t* images, const uint8_t* labels, int64_t batch,
                                const InputNorm& norm, Arena& arena, StepProfile* profile,
                                const BatchReducer& reducer) {
  arena.reset();
  size_profile(profile, model);
  const int32_t* y = int_labels(labels, batch, model.spec.classes, arena);
  ModelActs acts;
  int32_t* pred = arena.alloc<int32_t>(static_cast<size_t>(batch));
  // forward
  forward(acts, model, images, batch, norm, arena, profile);
  const Act logits = acts.out.back().as<int8_t>();
  // loss
  const int64_t t0 = profile ? steady_now_ns() : 0;
  BatchCounters counters = loss_counters(logits, y, pred, nullptr);
  counters.act_saturated = acts.saturated;
  // the loss is the mean over the whole batch
  const int64_t global_batch = reducer.combine(BatchExtent{batch}).samples;
  Err dlogits = make_tensor<int16_t>(arena, logits.shape);
  softmax_ce_backward(dlogits, logits, y, global_batch);
  if (profile) profile->loss_ns += steady_now_ns() - t0;
  // backward
  model_backward(model, acts, dlogits, arena, profile ? &profile->backward_ns : nullptr, reducer);
  // The processes' aligned partial sums add up to the whole batch's (exact integer sums).
  reducer.sum(model.params.g.data(), static_cast<int64_t>(model.params.g.size()));
  int64_t totals[] = {counters.loss_sum_q16, counters.correct, counters.act_saturated};
  reducer.sum(totals, 3);
  counters.loss_sum_q16 = totals[0];
  counters.correct = totals[1];
  counters.act_saturated = totals[2];
  return counters;
}

StepCounters train_step(Model& model, optim::Optimizer& optimizer, const uint8_t* images, const uint8_t* labels,
                        int64_t batch, const InputNorm& norm, uint64_t seed, uint64_t step, Arena& arena,
                        StepProfile* profile, const BatchReducer& reducer) {
  StepCounters counters;
  static_cast<BatchCounters&>(counters) =
      compute_gradients(model, images, labels, batch, norm, arena, profile, reducer);
  // update
  const int64_t t0 = profile ? steady_now_ns() : 0;
  counters.update = optimizer.step(model.params, seed, step, reducer);
  if (profile) profile->update_ns += steady_now_ns() - t0;
  return counters;
}

BatchCounters eval_batch(const Model& model, const uint8_t* images, const uint8_t* labels, int64_t batch,
                         const InputNorm& norm, EvalBuffers& buffers, int32_t* pred, int64_t* loss_q16) {
  Arena& arena = buffers.batch;
  arena.reset();
  const int32_t* y = int_labels(labels, batch, model.spec.classes, arena);
  int32_t* p = arena.alloc<int32_t>(static_cast<size_t>(batch));
  Act x = make_tensor<int8_t>(arena, model_input_shape(model, batch));
  normalize_input(x, images, norm);
  int64_t saturated = 0;
  const Act logits = model_infer(model, x, buffers.layers, &saturated);
  BatchCounters counters = loss_counters(logits, y, p, loss_q16);
  counters.act_saturated = saturated;
  if (pred) std::copy(p, p + batch, pred);
  return counters;
}

}  // namespace zimt
