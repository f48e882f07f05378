#pragma once
// The validation rules of run configs (types, ranges, allowed values, and
// which keys exist), kept apart from resolution so each file has one job.
#include "zimt/runs/config_error.hpp"

#include <nlohmann/json.hpp>

namespace zimt::runs {

// Appends one ConfigError per problem found in a resolved config.
void check_config_rules(const nlohmann::json& config, ConfigErrors& errors);

// "did you mean 'lr'?" for an unknown key, or "" when nothing is close.
std::string closest_key(const std::string& key, const nlohmann::json& known_object);

}  // namespace zimt::runs
