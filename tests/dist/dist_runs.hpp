#pragma once
// What the data-parallel tests share beyond tiny_run.hpp: data for the MNIST
// CNN, run configs, and the parts of a run that must not depend on how many
// processes trained it.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace zimt::test {

// dir/train.zds (256 samples) and dir/test.zds (64 samples): 10 classes of
// 1x28x28 images, the MNIST CNN's input.
void make_mnist_shaped_data(const std::filesystem::path& dir);

// write_tiny_config for `model` with the data-parallel tests' settings: one
// thread per process, batches of 25, 1 epoch, an evaluation of 100 test
// samples every 5 steps and a checkpoint every 4 (all kept); then `extra`.
std::filesystem::path write_run_config(const std::filesystem::path& dir, const std::string& run,
                                       const std::string& model,
                                       const nlohmann::json& extra = nlohmann::json::object());

// Every checkpoint of a run, one line each: its file name, the CRC-32 of its
// weights, every tensor's exponents, and its train state without the wall
// time (the parts of a checkpoint that must not depend on the processes).
std::string checkpoint_listing(const std::filesystem::path& run);

// The weights of a run's newest checkpoint, byte for byte.
std::vector<int16_t> newest_weights(const std::filesystem::path& run);

}  // namespace zimt::test
