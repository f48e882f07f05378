#pragma once
// The fixed-value options of a run config, one table per option: the JSON
// spelling of every allowed value and the typed value it maps to. The
// validation rules (config_rules.cpp), the typed run config (run_config.cpp),
// model-spec parsing and the command line's help text all read these tables,
// so an option's values are written once.
#include "zimt/model_spec.hpp"
#include "zimt/optim/init.hpp"
#include "zimt/optim/optimizer.hpp"
#include "zimt/optim/schedule.hpp"
#include "zimt/param.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace zimt::runs {

template <class E>
struct EnumValue {
  const char* name;  // the JSON spelling
  E value;
};

// What /optimizer/schedule/param scales: zim's trial count n or its alpha, or
// int_sgd's learning rate.
enum class ScheduleParam : uint8_t { n, alpha, lr };

inline constexpr EnumValue<optim::OptimizerType> kOptimizerTypes[] = {{"zim", optim::OptimizerType::zim},
                                                                      {"int_sgd", optim::OptimizerType::int_sgd},
                                                                      {"sign_sgd", optim::OptimizerType::sign_sgd}};
inline constexpr EnumValue<optim::ZimRule> kZimRules[] = {{"authors", optim::ZimRule::authors},
                                                          {"zero_inflated", optim::ZimRule::zero_inflated}};
inline constexpr EnumValue<optim::InitKind> kInitKinds[] = {{"authors", optim::InitKind::authors},
                                                            {"dense", optim::InitKind::dense},
                                                            {"float", optim::InitKind::float_quantized}};
inline constexpr EnumValue<optim::Scope> kScopes[] = {{"global", optim::Scope::global},
                                                      {"per_tensor", optim::Scope::per_tensor}};
inline constexpr EnumValue<optim::ScheduleKind> kScheduleKinds[] = {{"constant", optim::ScheduleKind::constant},
                                                                    {"step", optim::ScheduleKind::step},
                                                                    {"cosine", optim::ScheduleKind::cosine}};
inline constexpr EnumValue<ScheduleParam> kScheduleParams[] = {
    {"n", ScheduleParam::n}, {"alpha", ScheduleParam::alpha}, {"lr", ScheduleParam::lr}};
inline constexpr EnumValue<WeightStorage> kWeightStorages[] = {{"int8", WeightStorage::int8},
                                                               {"int16", WeightStorage::int16}};
inline constexpr EnumValue<ActivationWidth> kActivationWidths[] = {{"int8", ActivationWidth::int8},
                                                                   {"int16", ActivationWidth::int16}};

// The typed value spelled `name`, or nullopt.
template <class E, size_t N>
constexpr std::optional<E> enum_value(const EnumValue<E> (&table)[N], std::string_view name) {
  for (const auto& entry : table)
    if (name == entry.name) return entry.value;
  return std::nullopt;
}

// The JSON spelling of `value` (every value of E has one).
template <class E, size_t N>
constexpr const char* enum_name(const EnumValue<E> (&table)[N], E value) {
  for (const auto& entry : table)
    if (entry.value == value) return entry.name;
  return "";
}

// Every spelling of a table, in table order.
template <class E, size_t N>
std::vector<std::string> enum_names(const EnumValue<E> (&table)[N]) {
  std::vector<std::string> names;
  for (const auto& entry : table) names.emplace_back(entry.name);
  return names;
}

// One fixed-value option: its JSON pointer and its allowed spellings.
struct EnumOption {
  std::string pointer;
  std::vector<std::string> names;
};

// Every fixed-value option of a run config (model-level ones under /model).
const std::vector<EnumOption>& enum_options();

// The spellings quoted and joined for an error message:
// "\"zim\", \"int_sgd\", \"sign_sgd\"" (separator ", "), "\"int8\" or \"int16\"" (" or ").
std::string quoted_list(const std::vector<std::string>& names, std::string_view separator = ", ");

// One line per fixed-value option, "  /optimizer/type  zim | int_sgd | sign_sgd",
// for the command line's help text.
std::string enum_options_help();

}  // namespace zimt::runs
