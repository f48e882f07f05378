#pragma once
// Whether a dataset fits a model: image shape equal to the model's input,
// and no more classes than the model has outputs. Used by `zimt train` (for
// /data/train and /data/test) and `zimt eval` (for --data) before any work.
#include "zimt/data/dataset.hpp"
#include "zimt/model_spec.hpp"
#include "zimt/runs/config_error.hpp"

#include <string>

namespace zimt::runs {

// The problems, each under `pointer` ("/data/train"): "<path> holds 3x8x8
// images but /model/input is 1x12x12", "<path> has 10 classes but
// /model/classes is 4". Empty when it fits.
ConfigErrors data_fit_problems(const data::Dataset& data, const ModelSpec& model, const std::string& pointer);

}  // namespace zimt::runs
