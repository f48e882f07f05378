#include "zimt/runs/engine.hpp"

#include "zimt/data_order.hpp"
#include "zimt/optim/init.hpp"

#include <algorithm>
#include <stdexcept>

namespace zimt::runs {

Engine::Engine(const RunConfig& config)
    : model_(build_model(config.model, config.storage)),
      optimizer_(config.optimizer),
      norm_{config.norm_mean, config.norm_std},
      seed_(config.seed) {}

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

void Engine::gather(const data::Dataset& data, std::span<const uint32_t> indices) {
  const size_t image = data.image_size();
  images_.resize(indices.size() * image);
  labels_.resize(indices.size());
  for (size_t i = 0; i < indices.size(); ++i) {
    std::copy_n(data.image(indices[i]), image, images_.data() + i * image);
    labels_[i] = data.label(indices[i]);
  }
}

StepCounters Engine::train_batch(const data::Dataset& data, std::span<const uint32_t> indices, uint64_t step,
                                 const BatchReducer& reducer) {
  gather(data, indices);
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
  e.confusion.assign(static_cast<size_t>(e.classes) * e.classes, 0);
  const uint64_t count = all.size();
  std::vector<int32_t> pred;
  int64_t loss_q16 = 0;
  for (uint64_t begin = 0; begin < count; begin += batch) {
    const uint64_t n = std::min(batch, count - begin);
    gather(data, all.subspan(begin, n));
    pred.resize(n);
    const BatchCounters r =
        eval_batch(model_, images_.data(), labels_.data(), static_cast<int64_t>(n), norm_, arena_, pred.data());
    loss_q16 += r.loss_sum_q16;
    e.correct += static_cast<uint64_t>(r.correct);
    for (uint64_t i = 0; i < n; ++i)
      ++e.confusion[static_cast<size_t>(labels_[i]) * e.classes + static_cast<size_t>(pred[i])];
  }
  e.samples = count;
  e.mean_loss = count ? from_q16(loss_q16) / static_cast<double>(count) : 0.0;
  return e;
}

}  // namespace zimt::runs
