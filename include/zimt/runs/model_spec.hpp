#pragma once
// Model descriptions in JSON (configs/models/<name>.json) -> ModelSpec.
//
//   {"name": "mnist_cnn", "input": [1, 28, 28], "classes": 10,
//    "layers": [{"kind": "conv2d", "out": 32, "kernel": 3, "padding": 1},
//               {"kind": "relu"}, {"kind": "maxpool", "kernel": 2}, ...]}
//
// Optional: "block_activations" and "norm_activations": "int8" | "int16"
// (model_spec.hpp), and
// comment keys starting with "//" in the model and in any layer.
//
// Strict: unknown keys, wrong types, missing required keys, values out of
// range and shapes that cannot work ("kernel 5 is larger than the padded
// input size 4") are reported as ConfigErrors naming the JSON pointer
// (pointer_prefix + "/layers/3/kernel"), all of them at once.
#include "zimt/model_spec.hpp"
#include "zimt/runs/config_error.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>

namespace zimt::runs {

// Parses `j` (the model object found at `pointer_prefix`, "" for a whole
// file, "/model" inside a run config), appending problems to `errors`. The
// result is meaningful only when no error was added.
ModelSpec parse_model_spec(const nlohmann::json& j, const std::string& pointer_prefix, ConfigErrors& errors);

// Reads and parses one model file; throws ConfigInvalid (source = the path)
// listing every problem, or when the file is missing or not JSON.
ModelSpec load_model_spec_file(const std::filesystem::path& path);

// models_dir/<name>.json, e.g. load_named_model_spec("mnist_cnn", configs_dir() / "models").
// The name must be a plain file stem ([A-Za-z0-9_-]+); throws ConfigInvalid.
ModelSpec load_named_model_spec(const std::string& name, const std::filesystem::path& models_dir);

}  // namespace zimt::runs
