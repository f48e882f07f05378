#pragma once
// `zimt train`: one run from a resolved config to a finished run directory.
//
// Run directory (/output/dir, default runs/<model name>-<optimizer>):
//   config.resolved.json  the resolved config (written before any work)
//   metrics.jsonl / .csv  one row per evaluation (metrics_log.hpp)
//   summary.json          status, final and best accuracy, time, images/s
//   checkpoints/          step-<step>.zck, the newest /output/keep_checkpoints
//   train.log             the plain progress lines
//
// Determinism: a step is a pure function of (weights, seed, step, batch), the
// batch a function of (seed, epoch, position), so a run is identical for any
// /train/threads and after kill + --resume (checkpoints at every
// /output/checkpoint_every steps, at epoch ends, and on SIGINT/SIGTERM).
// Evaluations between epoch ends use /train/eval_samples test images (0 =
// all), a fixed pseudo-random subset (engine.hpp, eval_subset); epoch ends and
// the last step always use the whole test set.
//
// A ProcessGroup (TrainOptions::group) trains the run on several processes:
// each takes its share of every global batch (share_of), the step reduces
// what spans the batch, and every process applies the same update, so the
// weights equal the single-process run's bit for bit. Rank 0 alone reads and
// writes the run directory (lock, checkpoints, metrics, progress) and
// evaluates; a resumed checkpoint reaches the others by broadcast, so a run
// may resume on a different number of processes (docs/distributed.md).
#include "zimt/runs/process_group.hpp"
#include "zimt/runs/run_config.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace zimt::runs {

struct TrainOptions {
  bool resume = false;                  // continue from the newest checkpoint in the run directory
  bool overwrite = false;               // start afresh even if the run directory holds a run
  bool quiet = false;                   // no progress output (the log file is still written)
  std::string source;                   // the config's path, for messages
  uint64_t memory_limit = 0;            // bytes the run may need (memory_limit.hpp); 0: the machine's memory
  const ProcessGroup* group = nullptr;  // the processes sharing each batch; nullptr: this process alone
};

// Trains the run `config` (to_run_config of `resolved`). The resolved
// document itself is only recorded: written to config.resolved.json and into
// every checkpoint, and compared with a checkpoint's on --resume.
// Returns the process exit code: 0 finished, 130 interrupted (checkpoint written).
int train(const RunConfig& config, const nlohmann::json& resolved, const TrainOptions& options);

}  // namespace zimt::runs
