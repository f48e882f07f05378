// Data-parallel training (docs/distributed.md): `mpirun -np N zimt train`
// must write the checkpoints and metrics of the single-process run, byte for
// byte, for any N, with uneven and empty shares of a batch, and across a
// resume on a different number of processes.
#include "cli_run.hpp"
#include "dist_runs.hpp"
#include "mpi_run.hpp"
#include "tiny_run.hpp"

#include <doctest/doctest.h>

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

// Trains `config` alone (run dir/alone) and on 1..max_ranks processes (dir/ranksN); every run's checkpoints and
// metrics must equal the lone run's.
void check_ranks_match_alone(const fs::path& dir, const std::string& model, const json& extra, int max_ranks) {
  const fs::path alone = write_run_config(dir, "alone", model, extra);
  const auto ref = run_zimt("train " + alone.string() + " --quiet");
  REQUIRE_MESSAGE(ref.exit_code == 0, ref.output);
  const std::string listing = checkpoint_listing(dir / "alone");
  REQUIRE_FALSE(listing.empty());
  for (int ranks = 1; ranks <= max_ranks; ++ranks) {
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
