#include "zimt/runs/data_fit.hpp"

namespace zimt::runs {

ConfigErrors data_fit_problems(const data::Dataset& d, const ModelSpec& model, const std::string& pointer) {
  ConfigErrors errors;
  const Shape3 in = model.input;
  if (d.channels() != in.c || d.height() != in.h || d.width() != in.w)
    errors.push_back({pointer, d.path() + " holds " + std::to_string(d.channels()) + "x" + std::to_string(d.height()) +
                                   "x" + std::to_string(d.width()) + " images but /model/input is " +
                                   std::to_string(in.c) + "x" + std::to_string(in.h) + "x" + std::to_string(in.w)});
  if (d.classes() > model.classes)
    errors.push_back({pointer, d.path() + " has " + std::to_string(d.classes()) + " classes but /model/classes is " +
                                   std::to_string(model.classes)});
  return errors;
}

}  // namespace zimt::runs
