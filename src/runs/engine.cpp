#include "zimt/runs/engine.hpp"

#include "zimt/data_order.hpp"
#include "zimt/optim/init.hpp"

#include <tbb/blocked_range.h>
#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <stdexcept>

namespace zimt::runs {

namespace {

// The images (u8) and labels of the samples `indices` of `data`, in order.
void gather(const data::Dataset& data, std::span<const uint32_t> indices, std::vector<uint8_t>& images,
            std::vector<uint8_t>& labels) {
  const size_t image = data.image_size();
  images.resize(indices.size() * image);
  labels.resize(indices.size());
  for (size_t i = 0; i < indices.size(); ++i) {
    std::copy_n(data.image(indices[i]), image, images.data() + i * image);
    labels[i] = data.label(indices[i]);
  }
}

}  // namespace

// One thread's share of an evaluation: its batch, working memory and the
// sums over the batches it evaluated.
struct EvalWorker {
  std::vector<uint8_t> images, labels;
  std::vector<int32_t> pred;
  EvalBuffers buffers;
  int64_t loss_q16 = 0;
  uint64_t correct = 0;
  std::vector<uint64_t> confusion;  // classes x classes, as EvalResult's
};

struct EvalWorkers {
  tbb::enumerable_thread_specific<EvalWorker> threads;
};

Engine::Engine(const RunConfig& config)
    : model_(build_model(config.model, config.storage)),
      optimizer_(config.optimizer),
      norm_{config.norm_mean, config.norm_std},
      seed_(config.seed),
      eval_(std::make_unique<EvalWorkers>()) {}

Engine::~Engine() = default;

void Engine::initialize(optim::InitKind kind, uint64_t seed) { optim::initialize(model_.params, kind, seed); }

void Engine::load(const ParamSet& saved) {
  ParamSet& p = model_.params;
  const auto mismatch = [](const std::string& what) {
    throw std::runtime_error("checkpoint does not fit the model: " + what);
  };
  if (saved.storage != p.storage) mismatch("weight storage policy differs");
  if (saved.tensors.size() != p.tensors.size())
    mismatch(std::to_string(saved.tensors.size()) + " tensors, the model has " + std::to_string(p.tensors.size()));
  for (size_t t = 0; t < p.tensors.size(); ++t) {
    const auto &a = saved.tensors[t], &b = p.tensors[t];
    if (a.name != b.name || a.shape != b.shape || a.offset != b.offset) mismatch("tensor '" + a.name + "'");
    p.tensors[t].w_exp = a.w_exp;
    p.tensors[t].g_exp = a.g_exp;
  }
  p.w = saved.w;
}

StepCounters Engine::train_batch(const data::Dataset& data, std::span<const uint32_t> indices, uint64_t step,
                                 const BatchReducer& reducer) {
  gather(data, indices, images_, labels_);
  return train_step(model_, optimizer_, images_.data(), labels_.data(), static_cast<int64_t>(indices.size()), norm_,
                    seed_, step, arena_, nullptr, reducer);
}

std::vector<uint32_t> eval_subset(uint64_t size, uint64_t count) {
  constexpr uint64_t kSubsetSeed = 0x7e57'5eedULL;  // fixed: independent of the run's seed
  if (count >= size) return epoch_order(static_cast<uint32_t>(size), 0, 0, false);
  std::vector<uint32_t> order = epoch_order(static_cast<uint32_t>(size), kSubsetSeed, 0, true);
  order.resize(count);
  return order;
}

EvalResult Engine::evaluate(const data::Dataset& data, std::span<const uint32_t> all, uint64_t batch) {
  EvalResult e;
  e.classes = static_cast<uint32_t>(model_.spec.classes);
  const size_t cells = static_cast<size_t>(e.classes) * e.classes;
  for (EvalWorker& w : eval_->threads) {
    w.loss_q16 = 0;
    w.correct = 0;
    w.confusion.assign(cells, 0);
  }
  const uint64_t count = all.size();
  const uint64_t batches = (count + batch - 1) / batch;
  tbb::parallel_for(tbb::blocked_range<uint64_t>(0, batches, 1), [&](const tbb::blocked_range<uint64_t>& r) {
    // The forward pass runs parallel loops of its own; isolated, this thread
    // takes no other batch while it waits for them (that batch would reuse
    // its worker and its per-thread scratch, scratch.hpp).
    tbb::this_task_arena::isolate([&] {
      EvalWorker& w = eval_->threads.local();
      if (w.confusion.size() != cells) w.confusion.assign(cells, 0);  // the thread's first evaluation
      for (uint64_t b = r.begin(); b < r.end(); ++b) {
        const uint64_t begin = b * batch, n = std::min(batch, count - begin);
        gather(data, all.subspan(begin, n), w.images, w.labels);
        w.pred.resize(n);
        const BatchCounters c = eval_batch(model_, w.images.data(), w.labels.data(), static_cast<int64_t>(n), norm_,
                                           w.buffers, w.pred.data());
        w.loss_q16 += c.loss_sum_q16;
        w.correct += static_cast<uint64_t>(c.correct);
        for (uint64_t i = 0; i < n; ++i)
          ++w.confusion[static_cast<size_t>(w.labels[i]) * e.classes + static_cast<size_t>(w.pred[i])];
      }
    });
  });
  // Exact integer sums: the same whichever thread evaluated which batch.
  int64_t loss_q16 = 0;
  e.confusion.assign(cells, 0);
  for (const EvalWorker& w : eval_->threads) {
    loss_q16 += w.loss_q16;
    e.correct += w.correct;
    for (size_t i = 0; i < cells; ++i) e.confusion[i] += w.confusion[i];
  }
  e.samples = count;
  e.mean_loss = count ? from_q16(loss_q16) / static_cast<double>(count) : 0.0;
  return e;
}

}  // namespace zimt::runs
