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
  WeightStorage storage = WeightStorage::int8;
  std::string output_dir;
  uint64_t checkpoint_every = 0, keep_checkpoints = 3;
};

// round-half-even(x * 2^32); |x| < 2^31 (validated earlier).
optim::q32 to_q32(double x);

// Maps a resolved, validated config. `total_steps` sizes a cosine schedule.
// Throws ConfigInvalid (naming pointers) for what only shows up here.
RunConfig to_run_config(const nlohmann::json& resolved, uint64_t total_steps, const std::string& source);

}  // namespace zimt::runs
