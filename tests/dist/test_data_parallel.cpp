// Data-parallel training (docs/distributed.md): `mpirun -np N zimt train`
// must write the checkpoints and metrics of the single-process run, byte for
// byte, for any N, with uneven and empty shares of a batch, with the ZIM draw
// split over the processes under every rule and scope, and across a resume
// on a different number of processes.
#include "cli_run.hpp"
#include "dist_runs.hpp"
#include "mpi_run.hpp"
#include "tiny_run.hpp"

#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

namespace fs = std::filesystem;
using nlohmann::json;
using zimt::test::checkpoint_listing;
using zimt::test::metrics_without_timing;
using zimt::test::newest_weights;
using zimt::test::run_zimt;
using zimt::test::run_zimt_mpi;
using zimt::test::ScratchDir;
using zimt::test::write_run_config;

namespace {

// Trains `config` alone (run dir/alone) and on min_ranks..max_ranks processes (dir/ranksN); every run's
// checkpoints and metrics must equal the lone run's.
void check_ranks_match_alone(const fs::path& dir, const std::string& model, const json& extra, int max_ranks,
                             int min_ranks = 1) {
  const fs::path alone = write_run_config(dir, "alone", model, extra);
  const auto ref = run_zimt("train " + alone.string() + " --quiet");
  REQUIRE_MESSAGE(ref.exit_code == 0, ref.output);
  const std::string listing = checkpoint_listing(dir / "alone");
  REQUIRE_FALSE(listing.empty());
  for (int ranks = min_ranks; ranks <= max_ranks; ++ranks) {
    CAPTURE(ranks);
    const std::string run = "ranks" + std::to_string(ranks);
    const auto r = run_zimt_mpi(ranks, "train " + write_run_config(dir, run, model, extra).string() + " --quiet");
    REQUIRE_MESSAGE(r.exit_code == 0, r.output);
    CHECK(checkpoint_listing(dir / run) == listing);
    CHECK(newest_weights(dir / run) == newest_weights(dir / "alone"));
    CHECK(metrics_without_timing(dir / run) == metrics_without_timing(dir / "alone"));
  }
}

// The last line of a checkpoint listing: the newest checkpoint.
std::string newest_line(const std::string& listing) {
  const size_t start = listing.rfind('\n', listing.size() - 2);
  return start == std::string::npos ? listing : listing.substr(start + 1);
}

}  // namespace

TEST_CASE("1, 2 and 3 processes train the tiny model to the single-process bytes") {
  ScratchDir dir("dist_tiny");
  zimt::test::make_tiny_data(dir.path);
  // Batches of 25 split 25 / 12+13 / 8+8+9; 2000 samples end the epoch with a partial batch at step 80.
  check_ranks_match_alone(dir.path, "tiny", {{"train", {{"max_steps", 12}}}}, 3);
}

TEST_CASE("the last, partial batch of an epoch splits across processes like a whole one") {
  ScratchDir dir("dist_epoch_end");
  zimt::test::make_tiny_data(dir.path);
  // 2000 = 6 * 333 + 2: the epoch ends with a batch of 2 samples, so one of 3 processes gets none.
  check_ranks_match_alone(dir.path, "tiny", {{"train", {{"batch_size", 333}, {"epochs", 2}, {"max_steps", 9}}}}, 3);
}

TEST_CASE("the MNIST CNN and a residual network train to the single-process bytes on 2 and 3 processes") {
  ScratchDir cnn_dir("dist_cnn");
  zimt::test::make_mnist_shaped_data(cnn_dir.path);
  check_ranks_match_alone(cnn_dir.path, "mnist_cnn",
                          {{"train", {{"batch_size", 16}, {"max_steps", 3}, {"eval_every", 3}, {"eval_samples", 32}}},
                           {"output", {{"checkpoint_every", 3}}}},
                          3);
  ScratchDir resnet_dir("dist_resnet");
  zimt::test::make_tiny_data(resnet_dir.path);
  check_ranks_match_alone(resnet_dir.path, "small_resnet",
                          {{"train", {{"batch_size", 10}, {"max_steps", 3}, {"eval_every", 3}, {"eval_samples", 20}}},
                           {"output", {{"checkpoint_every", 3}}}},
                          3);
}

TEST_CASE("the ZIM draw split over 2 and 3 processes: the authors' rule, the zero-inflated rule, per-tensor scope") {
  // The MNIST CNN's 421,642 weights form 103 blocks of the sampler: each process draws a share of the trials and
  // the categories of a run of blocks, and the counts are exchanged whole (the authors' rule, ~63 % nonzero) or
  // as pairs (the zero-inflated rule, most trials in the zero category).
  const json steps = {{"train", {{"batch_size", 16}, {"max_steps", 3}, {"eval_every", 3}, {"eval_samples", 32}}},
                      {"output", {{"checkpoint_every", 3}}}};
  const std::vector<std::pair<std::string, json>> optimizers = {
      {"authors_per_tensor", {{"rule", "authors"}, {"scope", "per_tensor"}}},
      {"zero_inflated_global", {{"rule", "zero_inflated"}, {"alpha", 100}, {"init", "dense"}}},
      {"zero_inflated_per_tensor",
       {{"rule", "zero_inflated"}, {"alpha", 100}, {"init", "dense"}, {"scope", "per_tensor"}}}};
  for (const auto& [name, optimizer] : optimizers) {
    CAPTURE(name);
    ScratchDir dir("dist_draw_" + name);
    zimt::test::make_mnist_shaped_data(dir.path);
    json extra = steps;
    extra["optimizer"] = optimizer;
    check_ranks_match_alone(dir.path, "mnist_cnn", extra, 3, 2);
  }
}

TEST_CASE("a run checkpointed on 2 processes resumes on 3 to the single-process bytes") {
  ScratchDir dir("dist_resume");
  zimt::test::make_tiny_data(dir.path);
  // The whole test set at every evaluation: the stop at step 10 evaluates like an evaluation of the lone run.
  const json whole = {{"train", {{"max_steps", 16}, {"eval_samples", 0}}}};
  const auto ref = run_zimt("train " + write_run_config(dir.path, "alone", "tiny", whole).string() + " --quiet");
  REQUIRE_MESSAGE(ref.exit_code == 0, ref.output);
  const fs::path split = write_run_config(dir.path, "split", "tiny", whole);
  const auto first = run_zimt_mpi(2, "train " + split.string() + " --quiet --set /train/max_steps=10");
  REQUIRE_MESSAGE(first.exit_code == 0, first.output);
  const auto rest = run_zimt_mpi(3, "train " + split.string() + " --quiet --resume");
  REQUIRE_MESSAGE(rest.exit_code == 0, rest.output);
  // The split run has one checkpoint more (its stop at step 10); the newest ones match.
  CHECK(newest_line(checkpoint_listing(dir.path / "split")) == newest_line(checkpoint_listing(dir.path / "alone")));
  CHECK(newest_weights(dir.path / "split") == newest_weights(dir.path / "alone"));
  CHECK(metrics_without_timing(dir.path / "split") == metrics_without_timing(dir.path / "alone"));
}
