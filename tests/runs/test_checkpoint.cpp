// Checkpoints: exact round trip, and every kind of damage detected.
#include "zimt/runs/checkpoint.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;

namespace {

zimt::runs::Checkpoint sample_checkpoint(zimt::WeightStorage storage) {
  zimt::runs::Checkpoint c;
  c.state.step = 1234;
  c.state.epoch = 2;
  c.state.epoch_position = 640;
  c.state.seed = 99;
  c.state.loss_sum = -77;
  c.state.best_test_acc = 0.9731;
  c.state.elapsed_s = 12.5;
  c.config = {{"train", {{"seed", 99}}}};
  c.params.storage = storage;
  c.params.add("conv1.weight", {4, 1, 3, 3}, zimt::ParamKind::weight, 0);
  c.params.add("conv1.bias", {4}, zimt::ParamKind::bias, -3);
  const int limit = zimt::weight_limit(storage);
  for (size_t i = 0; i < c.params.w.size(); ++i)
    c.params.w[i] = static_cast<int16_t>(static_cast<int>(i * 37 % (2 * limit + 1)) - limit);
  c.params.tensors[0].g_exp = -20;
  return c;
}

}  // namespace

TEST_CASE("a checkpoint round-trips exactly under both storage policies") {
  for (auto storage : {zimt::WeightStorage::int8, zimt::WeightStorage::int16}) {
    const auto c = sample_checkpoint(storage);
    const std::string bytes = zimt::runs::encode_checkpoint(c);
    const auto d = zimt::runs::decode_checkpoint(bytes, "mem");
    CHECK(d.params.w == c.params.w);
    CHECK(d.params.storage == storage);
    REQUIRE(d.params.tensors.size() == 2);
    CHECK(d.params.tensors[1].name == "conv1.bias");
    CHECK(d.params.tensors[1].w_exp == -3);
    CHECK(d.params.tensors[0].g_exp == -20);
    CHECK(d.params.tensors[0].shape == std::vector<int64_t>{4, 1, 3, 3});
    CHECK(d.state.step == 1234);
    CHECK(d.state.epoch_position == 640);
    CHECK(d.state.loss_sum == -77);
    CHECK(d.state.best_test_acc == 0.9731);
    CHECK(d.config == c.config);
    CHECK(zimt::runs::encode_checkpoint(d) == bytes);
  }
  // int8 storage writes one byte per weight.
  CHECK(zimt::runs::encode_checkpoint(sample_checkpoint(zimt::WeightStorage::int16)).size() -
            zimt::runs::encode_checkpoint(sample_checkpoint(zimt::WeightStorage::int8)).size() ==
        40);
}

TEST_CASE("damaged checkpoints are detected and named") {
  const std::string good = zimt::runs::encode_checkpoint(sample_checkpoint(zimt::WeightStorage::int8));
  std::string flipped = good;
  flipped[good.size() - 3] ^= 0x10;
  CHECK_THROWS_WITH(zimt::runs::decode_checkpoint(flipped, "ck"), doctest::Contains("ck: checksum mismatch"));
  CHECK_THROWS_WITH(zimt::runs::decode_checkpoint(good.substr(0, good.size() - 1), "ck"),
                    doctest::Contains("ck: truncated or padded"));
  CHECK_THROWS_WITH(zimt::runs::decode_checkpoint(good.substr(0, 10), "ck"), doctest::Contains("ck: truncated"));
  std::string magic = good;
  magic[0] = 'X';
  CHECK_THROWS_WITH(zimt::runs::decode_checkpoint(magic, "ck"), doctest::Contains("bad magic"));
  CHECK_THROWS_WITH(zimt::runs::load_checkpoint("/nonexistent/x.zck"), doctest::Contains("cannot open"));
}

TEST_CASE("checkpoints are listed by step and pruned to the newest K") {
  const fs::path dir = fs::temp_directory_path() / ("zimt_ckpt_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const auto c = sample_checkpoint(zimt::WeightStorage::int8);
  for (uint64_t step : {5, 100, 20, 3000}) zimt::runs::save_checkpoint(zimt::runs::checkpoint_path(dir, step), c);
  auto all = zimt::runs::list_checkpoints(dir);
  REQUIRE(all.size() == 4);
  CHECK(all.back().filename() == "step-0000003000.zck");
  zimt::runs::prune_checkpoints(dir, 2);
  all = zimt::runs::list_checkpoints(dir);
  REQUIRE(all.size() == 2);
  CHECK(all.front().filename() == "step-0000000100.zck");
  CHECK(zimt::runs::load_checkpoint(all.back()).params.w == c.params.w);
  fs::remove_all(dir);
}
