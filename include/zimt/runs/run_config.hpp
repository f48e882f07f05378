#pragma once
// A resolved config (config.hpp) turned into the typed, fixed-point values the
// engine runs on. Real numbers become Q32.32 here, once, rounded half to even
// (to_q32); nothing downstream of this sees a double.
#include "zimt/model_spec.hpp"
#include "zimt/optim/init.hpp"
#include "zimt/optim/optimizer.hpp"
#include "zimt/param.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace zimt::runs {

struct RunConfig {
  ModelSpec model;
  std::string train_path, test_path;
  optim::q32 norm_mean = 0, norm_std = optim::q32_one;  // input normalisation, Q32.32
  bool shuffle = true;
  optim::OptimizerParams optimizer;
  optim::InitKind init = optim::InitKind::authors;
  uint64_t epochs = 1, max_steps = 0, batch_size = 64, seed = 1, threads = 0;
  uint64_t eval_every = 20, eval_samples = 0, log_every = 50;
  // Samples per forward pass of an evaluation; each thread holds one such
  // batch's activations (runs/engine.hpp, Engine::evaluate).
  uint64_t eval_batch = 64;
  WeightStorage storage = WeightStorage::int8;
  std::string output_dir;
  uint64_t checkpoint_every = 0, keep_checkpoints = 3;
};

// round-half-even(x * 2^32); |x| < 2^31 (validated earlier).
optim::q32 to_q32(double x);

// Maps a resolved config; validates it first (config.hpp, validate_config),
// so every problem is a ConfigInvalid naming its pointer and a RunConfig is
// always valid. The schedules' length is set by set_run_length.
RunConfig to_run_config(const nlohmann::json& resolved, const std::string& source);

// The steps a run of `c` takes over a training set of `train_size` samples:
// /train/epochs epochs (the last batch of each may be partial), or
// /train/max_steps when that is set and comes first.
uint64_t run_length(const RunConfig& c, uint64_t train_size);

// Sizes the schedules that need the run's length (cosine): `total_steps`.
void set_run_length(RunConfig& c, uint64_t total_steps);

}  // namespace zimt::runs
