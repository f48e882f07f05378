#pragma once
// The engine as a run uses it: a model built from the run config, its
// optimizer, and the input normalisation, fed with batches from a data::Dataset.
// Integer all the way (zimt_core); this file only gathers samples and keeps
// the pieces together.
#include "zimt/arena.hpp"
#include "zimt/data/dataset.hpp"
#include "zimt/model.hpp"
#include "zimt/optim/optimizer.hpp"
#include "zimt/runs/run_config.hpp"
#include "zimt/train_step.hpp"

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace zimt::runs {

struct EvalResult {
  uint64_t samples = 0;
  uint64_t correct = 0;
  double mean_loss = 0;             // mean cross-entropy (nats)
  std::vector<uint64_t> confusion;  // classes x classes, row = true label, column = prediction
  uint32_t classes = 0;
  double accuracy() const { return samples ? static_cast<double>(correct) / static_cast<double>(samples) : 0.0; }
};

struct EvalWorkers;

class Engine {
 public:
  explicit Engine(const RunConfig& config);
  ~Engine();

  // Overwrites every weight with the configured initialisation.
  void initialize(optim::InitKind kind, uint64_t seed);
  // Takes weights and exponents from a checkpoint; the tensor tables must match.
  void load(const ParamSet& saved);
  const ParamSet& params() const { return model_.params; }
  const Model& model() const { return model_; }

  // The training step (train_step.hpp) on the samples `indices` of `data`:
  // the whole batch, or this process's share of the batch `reducer` spans.
  StepCounters train_batch(const data::Dataset& data, std::span<const uint32_t> indices, uint64_t step,
                           const BatchReducer& reducer = single_process());

  // The samples `indices` of `data`, forward only (eval_batch), in batches
  // of `batch` that the threads take in parallel: each thread keeps the
  // working memory of one batch, so memory grows with batch x threads and
  // not with the number of samples. The result is the same for any batch
  // size and thread count (exact integer sums of per-sample results).
  EvalResult evaluate(const data::Dataset& data, std::span<const uint32_t> indices, uint64_t batch);

 private:
  Model model_;
  optim::Optimizer optimizer_;
  InputNorm norm_;
  uint64_t seed_;
  Arena arena_;
  std::vector<uint8_t> images_, labels_;
  std::unique_ptr<EvalWorkers> eval_;  // per-thread evaluation buffers, kept between evaluations
};

// Which test samples an evaluation of `count` < size samples uses: the first
// `count` of one fixed pseudo-random permutation (the same for every run and
// seed, so runs of a sweep are compared on the same images, and a subset is
// an unbiased sample of the test set rather than its first images).
// count >= size gives all samples in order.
std::vector<uint32_t> eval_subset(uint64_t size, uint64_t count);

// Q16 fixed point -> real (reporting only).
inline double from_q16(int64_t q) { return static_cast<double>(q) / 65536.0; }

}  // namespace zimt::runs
