#include "dist_runs.hpp"

#include "cli_run.hpp"
#include "tiny_run.hpp"
#include "zimt/data/checksum.hpp"
#include "zimt/runs/checkpoint.hpp"

#include <doctest/doctest.h>

namespace fs = std::filesystem;
using nlohmann::json;

namespace zimt::test {

void make_mnist_shaped_data(const fs::path& dir) {
  const std::string common = " --classes 10 --shape 1,28,28 --seed 1 --noise 0.1 --force";
  REQUIRE(run_zimt("synth -o " + (dir / "train.zds").string() + " --samples 256 --first 0" + common).exit_code == 0);
  REQUIRE(run_zimt("synth -o " + (dir / "test.zds").string() + " --samples 64 --first 256" + common).exit_code == 0);
}

fs::path write_run_config(const fs::path& dir, const std::string& run, const std::string& model, const json& extra) {
  const json settings = {
      {"model", model},
      {"train", {{"epochs", 1}, {"batch_size", 25}, {"eval_every", 5}, {"eval_samples", 100}, {"threads", 1}}},
      {"output", {{"checkpoint_every", 4}, {"keep_checkpoints", 100}}}};
  return write_tiny_config(dir, run, settings, extra);
}

std::string checkpoint_listing(const fs::path& run) {
  std::string out;
  for (const fs::path& path : runs::list_checkpoints(run / "checkpoints")) {
    const runs::Checkpoint ckpt = runs::load_checkpoint(path);
    const auto& w = ckpt.params.w;
    const uint32_t crc = data::crc32(std::span(reinterpret_cast<const uint8_t*>(w.data()), w.size() * sizeof(w[0])));
    out += path.filename().string() + " weights crc " + std::to_string(crc) + " exps";
    for (const auto& t : ckpt.params.tensors) out += " " + std::to_string(t.w_exp) + "/" + std::to_string(t.g_exp);
    const runs::TrainState& state = ckpt.state;
    out += " step " + std::to_string(state.step) + " epoch " + std::to_string(state.epoch) + " position " +
           std::to_string(state.epoch_position) + " loss " + std::to_string(state.loss_sum) + "/" +
           std::to_string(state.loss_count) + " best " + std::to_string(state.best_test_acc) + " metrics " +
           std::to_string(state.metrics_lines) + " totals " + state.optimizer_totals.dump() + "\n";
  }
  return out;
}

std::vector<int16_t> newest_weights(const fs::path& run) {
  const auto all = runs::list_checkpoints(run / "checkpoints");
  REQUIRE_FALSE(all.empty());
  return runs::load_checkpoint(all.back()).params.w;
}

}  // namespace zimt::test
