#pragma once
// Run configs: one JSON document per run.
//
// Resolution, in this order:
//   1. the file itself; if it names a `"base"` config (path relative to the
//      file's directory, or to configs/), the base is resolved first and the
//      file is merged over it (objects merge key by key, anything else
//      replaces);
//   2. command-line overrides, `--set /train/epochs=1` (value parsed as JSON,
//      or taken as a string when it is not valid JSON);
//   3. the defaults (default_config(), the one place they are defined) fill
//      everything not given;
//   4. `/model` given by name is replaced by the model description it names
//      (configs/models/<name>.json), so a resolved config is self-contained;
//   5. strict validation: unknown keys, wrong types and out-of-range values
//      are reported all at once, each with its JSON pointer (ConfigInvalid).
// The resolved document is what `zimt config show` prints and what every run
// writes to its run directory as config.resolved.json.
#include "zimt/runs/config_error.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace zimt::runs {

// Every key a config may hold, with its default value.
const nlohmann::json& default_config();

// Parses "POINTER=VALUE" into a JSON pointer and a value; throws
// std::invalid_argument naming the override when it is malformed.
std::pair<nlohmann::json::json_pointer, nlohmann::json> parse_override(const std::string& text);

// Where configs/ lives: $ZIMT_CONFIG_DIR, else the configs/ directory of the
// source tree zimt was built from, else ./configs.
std::filesystem::path configs_dir();

// Reads a config file, following `"base"` chains (cycles are an error).
nlohmann::json load_config_file(const std::filesystem::path& path);

// Steps 2-5 above on an already loaded document. `source` names it in errors.
nlohmann::json resolve_config(nlohmann::json config, const std::vector<std::string>& overrides,
                              const std::string& source);

// Convenience: load_config_file + resolve_config.
nlohmann::json load_resolved_config(const std::filesystem::path& path, const std::vector<std::string>& overrides);

// Validation alone (step 5), appending to `errors`.
void validate_config(const nlohmann::json& config, ConfigErrors& errors);

}  // namespace zimt::runs
