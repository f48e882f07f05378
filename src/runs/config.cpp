#include "zimt/runs/config.hpp"

#include "config_rules.hpp"

#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

namespace zimt::runs {

using nlohmann::json;
namespace fs = std::filesystem;

const json& default_config() {
  // The one place defaults live. Every key a config may hold appears here
  // (objects whose keys are open, such as /model, are checked elsewhere).
  static const json defaults = json::parse(R"({
    "model": "mnist_cnn",
    "data": {
      "train": "data/mnist/train.zds",
      "test": "data/mnist/test.zds",
      "normalize": {"mean": 0.1307, "std": 0.3081},
      "shuffle": true
    },
    "optimizer": {
      "type": "zim",
      "rule": "authors",
      "init": "authors",
      "n": {"fraction": 1.0},
      "c": 1.0,
      "alpha": 1.0,
      "scope": "global",
      "lr": 0.01,
      "schedule": {"kind": "constant", "param": "n", "every": 1000, "factor": 0.5, "final": 0.0}
    },
    "train": {
      "epochs": 1,
      "max_steps": 0,
      "batch_size": 64,
      "seed": 1,
      "threads": 0,
      "eval_every": 20,
      "eval_samples": 0,
      "eval_batch": 64,
      "weight_storage": "int8",
      "log_every": 50
    },
    "output": {
      "dir": "",
      "checkpoint_every": 0,
      "keep_checkpoints": 3
    }
  })");
  return defaults;
}

std::pair<json::json_pointer, json> parse_override(const std::string& text) {
  // A config's keys and strings are UTF-8 (the JSON parser checks a file's);
  // an override is checked here, or its bytes would fail later, wherever the
  // value is printed.
  try {
    (void)json(text).dump();
  } catch (const json::type_error&) {
    throw std::invalid_argument("--set '" + text + "': not valid UTF-8");
  }
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0)
    throw std::invalid_argument("--set '" + text + "': expected POINTER=VALUE, e.g. /train/epochs=3");
  const std::string pointer = text.substr(0, eq);
  const std::string value = text.substr(eq + 1);
  if (pointer[0] != '/')
    throw std::invalid_argument("--set '" + text + "': '" + pointer + "' is not a JSON pointer (it starts with '/')");
  json::json_pointer ptr;
  try {
    ptr = json::json_pointer(pointer);
  } catch (const json::exception& e) {
    throw std::invalid_argument("--set '" + text + "': bad JSON pointer '" + pointer + "'");
  }
  // A value that is valid JSON (numbers, true/false, null, quoted strings,
  // arrays, objects) is taken as such; anything else is a plain string.
  json parsed = json::parse(value, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) parsed = value;
  return {ptr, parsed};
}

namespace {

// An override replaces an array element or appends one; an index further out
// would make nlohmann fill the gap with nulls (`--set /x/1000000000=1` asks
// for gigabytes), so it is refused before the write. Throws
// std::invalid_argument naming the override.
void check_override_indices(const json& config, const json::json_pointer& ptr, const std::string& text) {
  std::vector<std::string> tokens;
  for (json::json_pointer p = ptr; !p.empty(); p = p.parent_pointer()) tokens.push_back(p.back());
  const json* node = &config;  // nullptr once the path leaves the document (created on write)
  std::string at;
  for (auto token = tokens.rbegin(); token != tokens.rend(); ++token) {
    const bool is_index = !token->empty() && token->find_first_not_of("0123456789") == std::string::npos;
    const bool array_here = node == nullptr || node->is_null() ? is_index : node->is_array();
    if (array_here && is_index) {
      const size_t size = node != nullptr && node->is_array() ? node->size() : 0;
      if (token->size() > 18 || std::stoull(*token) > size) {
        throw std::invalid_argument("--set '" + text + "': index " + *token + " is past the end of " +
                                    (at.empty() ? "/" : at) + " (" + std::to_string(size) +
                                    " elements; an override replaces an element or appends one)");
      }
      const size_t index = std::stoull(*token);
      node = index < size ? &(*node)[index] : nullptr;
    } else if (node != nullptr && node->is_object() && node->contains(*token)) {
      node = &(*node)[*token];
    } else {
      node = nullptr;
    }
    at += "/" + *token;
  }
}

}  // namespace

fs::path configs_dir() {
  if (const char* env = std::getenv("ZIMT_CONFIG_DIR"); env && *env) return env;
#ifdef ZIMT_SOURCE_CONFIGS
  if (fs::is_directory(ZIMT_SOURCE_CONFIGS)) return ZIMT_SOURCE_CONFIGS;
#endif
  return "configs";
}

namespace {

json read_json_file(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path.string() + ": cannot open");
  std::stringstream buffer;
  buffer << in.rdbuf();
  try {
    return json::parse(buffer.str());
  } catch (const json::exception& e) {  // parse_error, or out_of_range for a number beyond double (1e400)
    throw std::runtime_error(path.string() + ": not valid JSON: " + e.what());
  }
}

// Objects merge key by key; anything else in `over` replaces `base`.
void merge_into(json& base, const json& over) {
  if (!base.is_object() || !over.is_object()) {
    base = over;
    return;
  }
  for (auto it = over.begin(); it != over.end(); ++it) {
    if (base.contains(it.key()))
      merge_into(base[it.key()], it.value());
    else
      base[it.key()] = it.value();
  }
}

fs::path find_base(const fs::path& from, const std::string& name) {
  const fs::path beside = from.parent_path() / name;
  if (fs::exists(beside)) return beside;
  const fs::path in_configs = configs_dir() / name;
  if (fs::exists(in_configs)) return in_configs;
  throw std::runtime_error(from.string() + ": /base: no config '" + name + "' beside it or in " +
                           configs_dir().string());
}

json load_chain(const fs::path& path, std::vector<fs::path>& seen) {
  const fs::path canonical = fs::weakly_canonical(path);
  for (const auto& p : seen)
    if (p == canonical) throw std::runtime_error(path.string() + ": /base: cycle of base configs");
  seen.push_back(canonical);
  json config = read_json_file(path);
  if (!config.is_object()) throw std::runtime_error(path.string() + ": a config must be a JSON object");
  if (!config.contains("base")) return config;
  if (!config["base"].is_string())
    throw std::runtime_error(path.string() + ": /base: must be a string (a config path)");
  json merged = load_chain(find_base(path, config["base"].get<std::string>()), seen);
  config.erase("base");
  merge_into(merged, config);
  return merged;
}

// /model given by name becomes the description in configs/models/<name>.json.
void expand_model(json& config, const std::string& source) {
  json& model = config["model"];
  if (!model.is_string()) return;
  const std::string name = model.get<std::string>();
  fs::path file = name;
  if (file.extension() != ".json") file = configs_dir() / "models" / (name + ".json");
  if (!fs::exists(file)) {
    throw ConfigInvalid(source, {{"/model", "unknown model '" + name + "' (no " + file.string() + ")"}});
  }
  model = read_json_file(file);
}

}  // namespace

json load_config_file(const fs::path& path) {
  std::vector<fs::path> seen;
  return load_chain(path, seen);
}

json resolve_config(json config, const std::vector<std::string>& overrides, const std::string& source) {
  config.erase("base");
  // A named model is expanded first, so that an override can reach into it
  // (--set /model/norm_activations=int16); one naming a model is expanded below.
  if (config.contains("model")) expand_model(config, source);
  ConfigErrors errors;
  for (const auto& text : overrides) {
    try {
      auto [ptr, value] = parse_override(text);
      check_override_indices(config, ptr, text);
      config[ptr] = value;
    } catch (const std::invalid_argument& e) {
      errors.push_back({"", e.what()});
    } catch (const json::exception& e) {
      errors.push_back({"", "--set '" + text + "': " + e.what()});
    }
  }
  if (!errors.empty()) throw ConfigInvalid(source, errors);
  json resolved = default_config();
  merge_into(resolved, config);
  expand_model(resolved, source);
  validate_config(resolved, errors);
  if (!errors.empty()) throw ConfigInvalid(source, errors);
  return resolved;
}

json load_resolved_config(const fs::path& path, const std::vector<std::string>& overrides) {
  return resolve_config(load_config_file(path), overrides, path.string());
}

void validate_config(const json& config, ConfigErrors& errors) { check_config_rules(config, errors); }

}  // namespace zimt::runs
