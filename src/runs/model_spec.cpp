#include "zimt/runs/model_spec.hpp"

#include "zimt/runs/config_enums.hpp"

#include <fstream>
#include <map>
#include <set>

namespace zimt::runs {

using nlohmann::json;

namespace {

struct KindRule {
  LayerKind kind;
  std::set<std::string> required;
  std::set<std::string> optional;
};

// Which keys each layer kind takes besides "kind" and "name" (layer_kinds.hpp).
const std::map<std::string, KindRule>& kind_rules() {
  static const std::map<std::string, KindRule> rules = [] {
    std::map<std::string, KindRule> r;
    for (const LayerKindInfo& k : layer_kinds())
      r[k.name] = {
          k.kind, {k.required_keys.begin(), k.required_keys.end()}, {k.optional_keys.begin(), k.optional_keys.end()}};
    return r;
  }();
  return rules;
}

std::string type_name(const json& j) {
  if (j.is_number_float()) return "a non-integer number";
  return j.type_name();
}

// A width of kActivationWidths; appends an error otherwise.
void read_width(const json& j, const std::string& ptr, ActivationWidth& out, ConfigErrors& errors) {
  const auto width = j.is_string() ? enum_value(kActivationWidths, j.get<std::string>()) : std::nullopt;
  if (width)
    out = *width;
  else
    errors.push_back({ptr, "must be " + quoted_list(enum_names(kActivationWidths), " or ") + ", got " + j.dump()});
}

// An integer in [lo, max_shape_value]; appends an error otherwise.
bool read_int(const json& j, const std::string& ptr, int64_t lo, int64_t& out, ConfigErrors& errors) {
  if (!j.is_number_integer()) {
    errors.push_back({ptr, "must be an integer, got " + type_name(j)});
    return false;
  }
  const std::string range = "[" + std::to_string(lo) + ", " + std::to_string(max_shape_value) + "]";
  // nlohmann holds non-negative literals as uint64: compare before converting.
  if (j.is_number_unsigned() && j.get<uint64_t>() > static_cast<uint64_t>(max_shape_value)) {
    errors.push_back({ptr, "must be in " + range + ", got " + j.dump()});
    return false;
  }
  const int64_t v = j.get<int64_t>();
  if (v < lo || v > max_shape_value) {
    errors.push_back({ptr, "must be in " + range + ", got " + std::to_string(v)});
    return false;
  }
  out = v;
  return true;
}

// {"//": "why this layer is here"}: a comment, as in run configs.
bool is_comment(const std::string& key) { return key.starts_with("//"); }

LayerSpec parse_layer(const json& j, const std::string& ptr, ConfigErrors& errors) {
  LayerSpec layer;
  if (!j.is_object()) {
    errors.push_back({ptr, "must be an object like {\"kind\": \"relu\"}, got " + type_name(j)});
    return layer;
  }
  const auto kind_it = j.find("kind");
  if (kind_it == j.end()) {
    errors.push_back({ptr, "missing key 'kind'"});
    return layer;
  }
  if (!kind_it->is_string()) {
    errors.push_back({ptr + "/kind", "must be a string, got " + type_name(*kind_it)});
    return layer;
  }
  const std::string kind = kind_it->get<std::string>();
  const auto rule_it = kind_rules().find(kind);
  if (rule_it == kind_rules().end()) {
    std::string known;
    for (const auto& [k, r] : kind_rules()) known += (known.empty() ? "" : ", ") + k;
    errors.push_back({ptr + "/kind", "unknown layer kind '" + kind + "' (known: " + known + ")"});
    return layer;
  }
  const KindRule& rule = rule_it->second;
  layer.kind = rule.kind;
  for (const auto& key : rule.required)
    if (!j.contains(key)) errors.push_back({ptr, "missing key '" + key + "' for a " + kind + " layer"});

  bool stride_given = false;
  for (const auto& [key, value] : j.items()) {
    const std::string p = ptr + "/" + key;
    if (key == "kind" || is_comment(key)) continue;
    if (key == "name") {
      if (!value.is_string() || value.get<std::string>().empty())
        errors.push_back({p, "must be a non-empty string"});
      else
        layer.name = value.get<std::string>();
      continue;
    }
    if (!rule.required.count(key) && !rule.optional.count(key)) {
      std::string allowed = "kind, name";
      for (const auto& k : rule.required) allowed += ", " + k;
      for (const auto& k : rule.optional) allowed += ", " + k;
      errors.push_back({p, "unknown key '" + key + "' for a " + kind + " layer (allowed: " + allowed + ")"});
      continue;
    }
    if (key == "out") read_int(value, p, 1, layer.out, errors);
    if (key == "kernel") read_int(value, p, 1, layer.kernel, errors);
    if (key == "stride") stride_given = read_int(value, p, 1, layer.stride, errors);
    if (key == "padding") read_int(value, p, 0, layer.padding, errors);
    if (key == "bias") {
      if (!value.is_boolean())
        errors.push_back({p, "must be true or false, got " + type_name(value)});
      else
        layer.bias = value.get<bool>();
    }
  }
  // A pool's stride defaults to its kernel (PyTorch's MaxPool2d).
  if (layer.kind == LayerKind::maxpool && !stride_given) layer.stride = layer.kernel;
  return layer;
}

}  // namespace

ModelSpec parse_model_spec(const json& j, const std::string& prefix, ConfigErrors& errors) {
  ModelSpec spec;
  if (!j.is_object()) {
    errors.push_back({prefix, "a model must be an object with keys name, input, classes, layers; got " + type_name(j)});
    return spec;
  }
  const size_t errors_before = errors.size();
  for (const char* key : {"name", "input", "classes", "layers"})
    if (!j.contains(key)) errors.push_back({prefix, std::string("missing key '") + key + "'"});
  for (const auto& [key, value] : j.items()) {
    const std::string p = prefix + "/" + key;
    if (key == "name") {
      if (!value.is_string() || value.get<std::string>().empty())
        errors.push_back({p, "must be a non-empty string"});
      else
        spec.name = value.get<std::string>();
    } else if (key == "input") {
      if (!value.is_array() || value.size() != 3) {
        errors.push_back({p, "must be [channels, height, width], got " + value.dump()});
        continue;
      }
      read_int(value[0], p + "/0", 1, spec.input.c, errors);
      read_int(value[1], p + "/1", 1, spec.input.h, errors);
      read_int(value[2], p + "/2", 1, spec.input.w, errors);
    } else if (key == "classes") {
      read_int(value, p, 2, spec.classes, errors);
    } else if (key == "block_activations") {
      read_width(value, p, spec.block_activations, errors);
    } else if (key == "norm_activations") {
      read_width(value, p, spec.norm_activations, errors);
    } else if (is_comment(key)) {
      continue;
    } else if (key == "layers") {
      if (!value.is_array() || value.empty()) {
        errors.push_back({p, "must be a non-empty array of layers"});
        continue;
      }
      for (size_t i = 0; i < value.size(); ++i)
        spec.layers.push_back(parse_layer(value[i], p + "/" + std::to_string(i), errors));
    } else {
      errors.push_back(
          {p, "unknown key '" + key +
                  "' (allowed: name, input, classes, layers, block_activations, norm_activations, //...)"});
    }
  }
  // Shapes are checked only on a well-formed description, so every shape
  // error is a real one and not a consequence of an earlier problem.
  if (errors.size() == errors_before) {
    for (const auto& [index, message] : check_model_spec(spec))
      errors.push_back({index < 0 ? prefix : prefix + "/layers/" + std::to_string(index), message});
  }
  return spec;
}

ModelSpec load_model_spec_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw ConfigInvalid(path.string(), {{"", "cannot open model file"}});
  const json j = json::parse(in, nullptr, /*allow_exceptions=*/false, /*ignore_comments=*/false);
  if (j.is_discarded()) throw ConfigInvalid(path.string(), {{"", "not valid JSON"}});
  ConfigErrors errors;
  ModelSpec spec = parse_model_spec(j, "", errors);
  if (!errors.empty()) throw ConfigInvalid(path.string(), std::move(errors));
  return spec;
}

ModelSpec load_named_model_spec(const std::string& name, const std::filesystem::path& models_dir) {
  bool plain = !name.empty();
  for (char ch : name)
    plain = plain && ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
                      ch == '-');
  if (!plain)
    throw ConfigInvalid("model '" + name + "'", {{"", "a model name may hold only letters, digits, _ and -"}});
  const auto path = models_dir / (name + ".json");
  if (!std::filesystem::exists(path)) {
    std::set<std::string> names;  // sorted, so the message does not depend on directory order
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(models_dir, ec))
      if (entry.path().extension() == ".json") names.insert(entry.path().stem().string());
    std::string known;
    for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
    throw ConfigInvalid("model '" + name + "'",
                        {{"", "no such model: " + path.string() + (known.empty() ? "" : " (known: " + known + ")")}});
  }
  return load_model_spec_file(path);
}

}  // namespace zimt::runs
