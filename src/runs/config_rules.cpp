#include "config_rules.hpp"

#include "zimt/runs/config.hpp"
#include "zimt/runs/config_enums.hpp"
#include "zimt/runs/model_spec.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <sstream>
#include <vector>

namespace zimt::runs {

using nlohmann::json;

namespace {

std::string show(const json& v) {
  std::string s = v.dump();
  return s.size() > 60 ? s.substr(0, 57) + "..." : s;
}

std::string type_name(const json& v) {
  if (v.is_number_integer()) return "an integer";
  if (v.is_number()) return "a number";
  return std::string(v.is_object()    ? "an object"
                     : v.is_array()   ? "an array"
                     : v.is_string()  ? "a string"
                     : v.is_boolean() ? "a boolean"
                                      : "null");
}

// One leaf rule: checks the value at its pointer and reports what is wrong.
using Check = std::function<std::string(const json&)>;

Check integer(int64_t lo, int64_t hi = std::numeric_limits<int64_t>::max()) {
  return [lo, hi](const json& v) -> std::string {
    if (!v.is_number_integer()) return "must be an integer, got " + type_name(v) + " " + show(v);
    const auto x = v.get<int64_t>();
    if (x < lo) return "must be >= " + std::to_string(lo) + ", got " + std::to_string(x);
    if (x > hi) return "must be <= " + std::to_string(hi) + ", got " + std::to_string(x);
    return "";
  };
}

Check positive_integer() {
  return [](const json& v) -> std::string {
    if (!v.is_number_integer()) return "must be an integer, got " + type_name(v) + " " + show(v);
    if (v.get<int64_t>() <= 0) return "must be > 0, got " + show(v);
    return "";
  };
}

// A real number in [lo, hi] (or (lo, hi] when lo_open).
Check number(double lo, double hi, bool lo_open = false) {
  return [=](const json& v) -> std::string {
    if (!v.is_number()) return "must be a number, got " + type_name(v) + " " + show(v);
    const double x = v.get<double>();
    if (!std::isfinite(x)) return "must be finite, got " + show(v);
    if (lo_open ? x <= lo : x < lo)
      return std::string("must be ") + (lo_open ? "> " : ">= ") + show(json(lo)) + ", got " + show(v);
    if (x > hi) return "must be <= " + show(json(hi)) + ", got " + show(v);
    return "";
  };
}

Check one_of(std::vector<std::string> values) {
  return [values](const json& v) -> std::string {
    const std::string list = quoted_list(values);
    if (!v.is_string()) return "must be one of " + list + ", got " + type_name(v) + " " + show(v);
    if (std::find(values.begin(), values.end(), v.get<std::string>()) == values.end())
      return "must be one of " + list + ", got " + show(v);
    return "";
  };
}

Check string(bool allow_empty) {
  return [allow_empty](const json& v) -> std::string {
    if (!v.is_string()) return "must be a string, got " + type_name(v) + " " + show(v);
    if (!allow_empty && v.get<std::string>().empty()) return "must not be empty";
    return "";
  };
}

Check boolean() {
  return [](const json& v) -> std::string {
    return v.is_boolean() ? "" : "must be true or false, got " + type_name(v) + " " + show(v);
  };
}

// /optimizer/n: an absolute trial count, or {"fraction": f} of d.
Check trial_count() {
  return [](const json& v) -> std::string {
    if (v.is_number_integer()) return v.get<int64_t>() >= 0 ? "" : "must be >= 0, got " + show(v);
    if (v.is_object()) {
      if (v.size() != 1 || !v.contains("fraction")) return "must be an integer or {\"fraction\": f}, got " + show(v);
      return number(0.0, 1e6)(v["fraction"]);
    }
    return "must be an integer or {\"fraction\": f}, got " + type_name(v) + " " + show(v);
  };
}

const std::map<std::string, Check>& leaf_rules() {
  static const std::map<std::string, Check> rules = [] {
    std::map<std::string, Check> r = {
        {"/data/train", string(false)},
        {"/data/test", string(false)},
        {"/data/normalize/mean", number(-1e6, 1e6)},
        {"/data/normalize/std", number(0.0, 1e6, true)},
        {"/data/shuffle", boolean()},
        {"/optimizer/n", trial_count()},
        // c and alpha become Q32.32 (optim/q32.hpp), which holds |x| < 2^31.
        {"/optimizer/c", number(0.0, 1e9)},
        {"/optimizer/alpha", number(0.0, 1e9, true)},
        {"/optimizer/lr", number(0.0, 1e6, true)},
        {"/optimizer/schedule/every", positive_integer()},
        {"/optimizer/schedule/factor", number(0.0, 1.0, true)},
        {"/optimizer/schedule/final", number(0.0, 1.0)},
        {"/train/epochs", integer(0, 100000)},
        {"/train/max_steps", integer(0)},
        {"/train/batch_size", integer(1, 65536)},
        {"/train/seed", integer(0)},
        {"/train/threads", integer(0, 1024)},
        {"/train/eval_every", integer(0)},
        {"/train/eval_samples", integer(0)},
        {"/train/eval_batch", integer(1, 65536)},
        {"/train/log_every", positive_integer()},
        {"/output/dir", string(true)},
        {"/output/checkpoint_every", integer(0)},
        {"/output/keep_checkpoints", integer(1, 1000)},
    };
    // The fixed-value options, from their tables (model-level ones are
    // checked by the model-spec parser).
    for (const EnumOption& option : enum_options())
      if (!option.pointer.starts_with("/model/")) r.emplace(option.pointer, one_of(option.names));
    return r;
  }();
  return rules;
}

// Subtrees whose inner keys are checked by their own parser, not here.
bool is_open_subtree(const std::string& pointer) { return pointer == "/model" || pointer == "/optimizer/n"; }

// RFC 6901: '~' becomes "~0" and '/' becomes "~1" inside a pointer token.
std::string escape_pointer_token(const std::string& key) {
  std::string out;
  for (char ch : key) out += ch == '~' ? "~0" : ch == '/' ? "~1" : std::string(1, ch);
  return out;
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// Walks `config` against the shape of the defaults: unknown keys and objects
// where leaves belong (or the reverse) are reported; leaves get their rule.
void walk(const json& value, const json& shape, const std::string& pointer, ConfigErrors& errors) {
  if (is_open_subtree(pointer)) {
    if (const auto it = leaf_rules().find(pointer); it != leaf_rules().end())
      if (auto problem = it->second(value); !problem.empty()) errors.push_back({pointer, problem});
    return;
  }
  if (shape.is_object()) {
    if (!value.is_object()) {
      errors.push_back({pointer, "must be an object, got " + type_name(value) + " " + show(value)});
      return;
    }
    for (auto it = value.begin(); it != value.end(); ++it) {
      if (it.key().starts_with("//")) continue;  // a comment: {"//": "what this config is for"}
      const std::string child = pointer + "/" + escape_pointer_token(it.key());
      if (!shape.contains(it.key())) {
        std::string message = "unknown key '" + it.key() + "'";
        if (auto near = closest_key(it.key(), shape); !near.empty()) message += " (did you mean '" + near + "'?)";
        errors.push_back({child, message});
        continue;
      }
      walk(it.value(), shape[it.key()], child, errors);
    }
    return;
  }
  if (const auto it = leaf_rules().find(pointer); it != leaf_rules().end())
    if (auto problem = it->second(value); !problem.empty()) errors.push_back({pointer, problem});
}

}  // namespace

std::string closest_key(const std::string& key, const json& known_object) {
  std::string best;
  size_t best_distance = std::max<size_t>(2, key.size() / 3) + 1;
  for (auto it = known_object.begin(); it != known_object.end(); ++it) {
    const size_t d = edit_distance(key, it.key());
    if (d < best_distance) {
      best_distance = d;
      best = it.key();
    }
  }
  return best;
}

void check_config_rules(const json& config, ConfigErrors& errors) {
  walk(config, default_config(), "", errors);
  if (!config.contains("model") || !config["model"].is_object())
    errors.push_back({"/model", "must be a model name or a model description object"});
  else
    parse_model_spec(config["model"], "/model", errors);
  // Cross-field rules, checked only where the fields themselves are valid.
  const json::json_pointer epochs("/train/epochs"), max_steps("/train/max_steps");
  if (config.contains(epochs) && config.contains(max_steps) && config[epochs].is_number_integer() &&
      config[max_steps].is_number_integer() && config[epochs] == 0 && config[max_steps] == 0)
    errors.push_back({"/train/epochs", "0 epochs with no /train/max_steps: nothing to train"});
  // A schedule scales n or alpha of zim, or the learning rate of int_sgd.
  const json::json_pointer type("/optimizer/type"), kind("/optimizer/schedule/kind"),
      param("/optimizer/schedule/param");
  if (config.contains(type) && config.contains(kind) && config.contains(param) && config[type].is_string() &&
      config[kind].is_string() && config[param].is_string()) {
    const auto t = enum_value(kOptimizerTypes, config[type].get<std::string>());
    const auto k = enum_value(kScheduleKinds, config[kind].get<std::string>());
    const auto p = enum_value(kScheduleParams, config[param].get<std::string>());
    const bool for_sgd = t == optim::OptimizerType::int_sgd;
    if (t && k && p && *k != optim::ScheduleKind::constant &&
        (for_sgd ? *p != ScheduleParam::lr : *p == ScheduleParam::lr))
      errors.push_back(
          {"/optimizer/schedule/param", "\"" + config[param].get<std::string>() + "\" does not apply to optimizer \"" +
                                            config[type].get<std::string>() + "\" (zim: n or alpha; int_sgd: lr)"});
  }
}

}  // namespace zimt::runs
