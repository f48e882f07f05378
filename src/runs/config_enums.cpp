#include "zimt/runs/config_enums.hpp"

#include <algorithm>

namespace zimt::runs {

const std::vector<EnumOption>& enum_options() {
  static const std::vector<EnumOption> options = {
      {"/optimizer/type", enum_names(kOptimizerTypes)},
      {"/optimizer/rule", enum_names(kZimRules)},
      {"/optimizer/init", enum_names(kInitKinds)},
      {"/optimizer/scope", enum_names(kScopes)},
      {"/optimizer/schedule/kind", enum_names(kScheduleKinds)},
      {"/optimizer/schedule/param", enum_names(kScheduleParams)},
      {"/train/weight_storage", enum_names(kWeightStorages)},
      {"/model/block_activations", enum_names(kActivationWidths)},
      {"/model/norm_activations", enum_names(kActivationWidths)},
  };
  return options;
}

std::string quoted_list(const std::vector<std::string>& names, std::string_view separator) {
  std::string list;
  for (const auto& name : names) {
    if (!list.empty()) list += separator;
    list += "\"" + name + "\"";
  }
  return list;
}

std::string enum_options_help() {
  size_t width = 0;
  for (const auto& option : enum_options()) width = std::max(width, option.pointer.size());
  std::string text;
  for (const auto& option : enum_options()) {
    text += "  " + option.pointer + std::string(width + 2 - option.pointer.size(), ' ');
    for (size_t i = 0; i < option.names.size(); ++i) text += (i ? " | " : "") + option.names[i];
    text += '\n';
  }
  return text;
}

}  // namespace zimt::runs
