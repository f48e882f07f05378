#pragma once
// Small `zimt train` runs for the CLI tests: the tiny model's 4-class data,
// configs for it, and run outputs compared without their timing fields.
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>

namespace zimt::test {

// dir/train.zds (2,000 samples) and dir/test.zds (500 samples) of one
// synthetic 4-class task of 1x12x12 images (the data of data/make_tiny).
void make_tiny_data(const std::filesystem::path& dir);

// dir/<run>.json: the tiny model on make_tiny_data's files, run directory
// dir/<run>, ZIM authors rule, batch 32, seed 3; then `settings` (the calling
// test file's defaults) and `extra` merged over it as JSON merge patches.
std::filesystem::path write_tiny_config(const std::filesystem::path& dir, const std::string& run,
                                        const nlohmann::json& settings, const nlohmann::json& extra);

// A run directory's metrics.jsonl, one record per line, without the fields
// that measure time (equal for equal runs).
std::string metrics_without_timing(const std::filesystem::path& run);

}  // namespace zimt::test
