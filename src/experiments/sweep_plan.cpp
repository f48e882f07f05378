// Sweep file validation and grid expansion (see zimt/experiments/sweep.hpp).
#include "zimt/experiments/sweep.hpp"

#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

namespace zimt::experiments {
namespace {

using nlohmann::json;

std::string escape_pointer_token(const std::string& token) {
  std::string out;
  for (char ch : token) {
    if (ch == '~')
      out += "~0";
    else if (ch == '/')
      out += "~1";
    else
      out += ch;
  }
  return out;
}

// True when the pointer `inner` names a key somewhere below `outer`.
bool inside(const std::string& inner, const std::string& outer) {
  return inner.size() > outer.size() && inner.starts_with(outer) && inner[outer.size()] == '/';
}

// Checks that `pointer` is well-formed and names a key of `resolved`; returns
// the problem or "".
std::string pointer_problem(const std::string& pointer, const json& resolved) {
  if (pointer.empty() || pointer[0] != '/')
    return "axis key \"" + pointer + "\" is not a JSON pointer (must start with '/')";
  try {
    json::json_pointer p(pointer);
    if (!resolved.contains(p)) return "axis key \"" + pointer + "\" names no key of the resolved base config";
  } catch (const json::exception& e) {
    return "axis key \"" + pointer + "\" is not a valid JSON pointer: " + e.what();
  }
  if (pointer == "/train/seed") return "axis key \"/train/seed\" is set by \"seeds\", not by an axis";
  if (pointer == "/output/dir") return "axis key \"/output/dir\" is set by the sweep, not by an axis";
  for (const char* set_by_sweep : {"/train/seed", "/output/dir"})
    if (inside(set_by_sweep, pointer))
      return "axis key \"" + pointer + "\" would replace " + set_by_sweep +
             ", which the sweep sets; sweep the keys inside it instead";
  return "";
}

// Reads { pointer: [values...] } at `where` into axes, appending problems.
std::vector<SweepAxis> parse_axes(const json& obj, const std::string& where, const json& resolved,
                                  runs::ConfigErrors& errors) {
  std::vector<SweepAxis> axes;
  if (!obj.is_object()) {
    errors.push_back({where, "must be an object of JSON pointer -> list of values"});
    return axes;
  }
  for (const auto& [key, values] : obj.items()) {  // nlohmann objects iterate in sorted key order
    const std::string at = where + "/" + escape_pointer_token(key);
    if (std::string problem = pointer_problem(key, resolved); !problem.empty()) errors.push_back({at, problem});
    if (!values.is_array() || values.empty()) {
      errors.push_back({at, "must be a non-empty list of values"});
      continue;
    }
    axes.push_back({key, std::vector<json>(values.begin(), values.end())});
  }
  return axes;
}

std::vector<std::int64_t> parse_seeds(const json& seeds, runs::ConfigErrors& errors) {
  std::vector<std::int64_t> out;
  if (seeds.is_number_integer()) {
    const std::int64_t n = seeds.get<std::int64_t>();
    if (n < 1 || n > 100000) errors.push_back({"/seeds", "a seed count must be in 1..100000, got " + seeds.dump()});
    for (std::int64_t s = 1; s <= n && n <= 100000; ++s) out.push_back(s);
    return out;
  }
  if (!seeds.is_array() || seeds.empty()) {
    errors.push_back({"/seeds", "must be a seed count or a non-empty list of integer seeds, got " + seeds.dump()});
    return out;
  }
  for (std::size_t i = 0; i < seeds.size(); ++i) {
    if (!seeds[i].is_number_integer() || seeds[i].get<std::int64_t>() < 0) {
      errors.push_back({"/seeds/" + std::to_string(i), "must be a non-negative integer, got " + seeds[i].dump()});
      continue;
    }
    const std::int64_t s = seeds[i].get<std::int64_t>();
    for (std::int64_t seen : out)
      if (seen == s)
        errors.push_back({"/seeds/" + std::to_string(i), "seed " + std::to_string(s) + " is listed twice"});
    out.push_back(s);
  }
  return out;
}

// A value as it appears in a label: strings bare, anything else as JSON.
std::string label_value(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

// Keeps [A-Za-z0-9._=+-] and turns everything else into '_', so a label is a
// safe directory name.
std::string sanitize(const std::string& s) {
  std::string out;
  for (char ch : s) {
    const bool keep = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
                      ch == '_' || ch == '=' || ch == '+' || ch == '-';
    out += keep ? ch : '_';
  }
  return out;
}

std::string last_token(const std::string& pointer) { return pointer.substr(pointer.rfind('/') + 1); }

// Replaces every {pointer} in `tmpl` by that value of `config`.
std::string render_template(const std::string& tmpl, const json& config) {
  std::string out;
  for (std::size_t i = 0; i < tmpl.size(); ++i) {
    const std::size_t close = tmpl[i] == '{' ? tmpl.find('}', i) : std::string::npos;
    if (close == std::string::npos) {
      out += tmpl[i];
      continue;
    }
    const json::json_pointer p(tmpl.substr(i + 1, close - i - 1));
    out += config.contains(p) ? label_value(config.at(p)) : "?";
    i = close;
  }
  return out;
}

// Checks a label template's {pointer} references against the resolved base.
void check_template(const std::string& tmpl, const json& resolved, runs::ConfigErrors& errors) {
  for (std::size_t open = tmpl.find('{'); open != std::string::npos; open = tmpl.find('{', open + 1)) {
    const std::size_t close = tmpl.find('}', open);
    if (close == std::string::npos) {
      errors.push_back({"/label", "unclosed '{' in label template"});
      return;
    }
    const std::string pointer = tmpl.substr(open + 1, close - open - 1);
    if (std::string problem = pointer_problem(pointer, resolved); !problem.empty() && pointer != "/train/seed")
      errors.push_back({"/label", problem});
  }
}

std::uint64_t fnv1a64(const std::string& bytes) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char b : bytes) {
    h ^= b;
    h *= 0x100000001b3ULL;
  }
  return h;
}

// One point of the grid: the pointer values that define it.
using Assignment = std::vector<std::pair<std::string, json>>;

// Two grid points whose labels coincide (a template that omits an axis) must
// not be averaged together: such groups get their seed-free hash appended.
void disambiguate_groups(std::vector<PlannedRun>& runs) {
  std::map<std::string, std::map<std::string, int>> ids_by_label;
  std::vector<std::string> ids;
  for (const PlannedRun& run : runs) {
    json seedless = run.config;
    seedless["train"].erase("seed");
    seedless["output"].erase("dir");
    ids.push_back(config_hash(seedless).substr(0, 6));
    ids_by_label[run.group][ids.back()] = 1;
  }
  for (std::size_t i = 0; i < runs.size(); ++i) {
    if (ids_by_label[runs[i].group].size() < 2) continue;
    const std::string suffix = "-s" + std::to_string(runs[i].seed) + "-" + runs[i].hash.substr(0, 8);
    runs[i].group += "-" + ids[i];
    runs[i].name = runs[i].group + suffix;
    runs[i].config["output"]["dir"] =
        (std::filesystem::path(runs[i].config["output"]["dir"].get<std::string>()).parent_path() / runs[i].name)
            .string();
  }
}

}  // namespace

// Drops "//" comment keys at every depth: they do not change a run.
void strip_comments(json& j) {
  if (!j.is_object()) return;
  j.erase("//");
  for (auto& [key, value] : j.items()) strip_comments(value);
}

std::string config_hash(const json& config) {
  json identity = config;
  strip_comments(identity);
  for (const char* placement : {"/output/dir", "/train/threads"}) {
    const json::json_pointer p(placement);
    if (!identity.contains(p)) continue;
    identity[p.parent_pointer()].erase(p.back());
    if (identity[p.parent_pointer()].empty()) identity.erase(p.parent_pointer().back());  // no trace of placement
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(fnv1a64(identity.dump())));
  return hex;
}

SweepSpec parse_sweep(const json& doc, const std::filesystem::path& source, const ConfigLoader& load,
                      const ConfigResolver& resolve) {
  runs::ConfigErrors errors;
  SweepSpec spec;
  spec.source = source;
  if (!doc.is_object()) throw runs::ConfigInvalid(source.string(), {{"", "a sweep file must be a JSON object"}});
  for (const auto& [key, value] : doc.items())
    if (key != "base" && key != "axes" && key != "zip" && key != "seeds" && key != "output" && key != "label" &&
        key != "//")
      errors.push_back(
          {"/" + escape_pointer_token(key),
           "unknown key '" + key + "' (expected base, axes, zip, seeds, output, label, or a \"//\" comment)"});

  // The base config, resolved, is what axis pointers must name.
  const std::filesystem::path dir = source.parent_path();
  json base;
  if (!doc.contains("base")) {
    errors.push_back({"/base", "missing: a config path or an inline config object"});
  } else if (doc["base"].is_string()) {
    const std::filesystem::path path = dir / doc["base"].get<std::string>();
    spec.base_name = sanitize(path.stem().string());
    base = load(path);
  } else if (doc["base"].is_object()) {
    base = doc["base"];
    spec.base_name = "base";
    if (base.contains("base") && base["base"].is_string()) {
      json inherited = load(dir / base["base"].get<std::string>());
      base.erase("base");
      inherited.merge_patch(base);
      base = std::move(inherited);
    }
  } else {
    errors.push_back({"/base", "must be a config path or an inline config object, got " + doc["base"].dump()});
  }
  if (!base.is_null()) {
    try {
      spec.base_resolved = resolve(base, source.string() + " (base)");
    } catch (const runs::ConfigInvalid& e) {
      for (const auto& inner : e.errors()) errors.push_back({"/base", "resolved base config: " + inner.str()});
    }
  }
  const json& resolved = spec.base_resolved;
  const bool can_check = resolved.is_object();

  if (doc.contains("axes") && can_check) spec.axes = parse_axes(doc["axes"], "/axes", resolved, errors);
  if (doc.contains("zip") && can_check) {
    if (!doc["zip"].is_array()) errors.push_back({"/zip", "must be a list of {pointer: [values...]} groups"});
    for (std::size_t g = 0; doc["zip"].is_array() && g < doc["zip"].size(); ++g) {
      const std::string at = "/zip/" + std::to_string(g);
      std::vector<SweepAxis> group = parse_axes(doc["zip"][g], at, resolved, errors);
      for (const SweepAxis& axis : group)
        if (axis.values.size() != group.front().values.size())
          errors.push_back({at + "/" + escape_pointer_token(axis.pointer),
                            "zipped lists must have equal lengths: " + std::to_string(axis.values.size()) +
                                " values here, " + std::to_string(group.front().values.size()) + " for \"" +
                                group.front().pointer + "\""});
      if (!group.empty()) spec.zips.push_back(std::move(group));
    }
  }
  // Each value is set by one axis: no pointer may repeat another or lie
  // inside it (an axis that replaces /optimizer leaves no /optimizer/alpha).
  std::vector<std::pair<std::string, std::string>> seen;  // pointer, where it was given
  auto check_overlap = [&](const SweepAxis& axis, const std::string& at) {
    const std::string key = at + "/" + escape_pointer_token(axis.pointer);
    for (const auto& [pointer, where] : seen) {
      if (pointer == axis.pointer)
        errors.push_back({key, "\"" + axis.pointer + "\" is already an axis in " + where});
      else if (inside(axis.pointer, pointer) || inside(pointer, axis.pointer))
        errors.push_back({key, "\"" + axis.pointer + "\" overlaps the axis \"" + pointer + "\" in " + where +
                                   ": one value cannot be set by two axes"});
    }
    seen.emplace_back(axis.pointer, at);
  };
  for (const SweepAxis& axis : spec.axes) check_overlap(axis, "/axes");
  for (std::size_t g = 0; g < spec.zips.size(); ++g)
    for (const SweepAxis& axis : spec.zips[g]) check_overlap(axis, "/zip/" + std::to_string(g));

  if (!doc.contains("seeds"))
    errors.push_back({"/seeds", "missing: a seed count or a list of seeds"});
  else
    spec.seeds = parse_seeds(doc["seeds"], errors);

  if (!doc.contains("output") || !doc["output"].is_string() || doc["output"].get<std::string>().empty())
    errors.push_back({"/output", "must be the sweep's output directory (a non-empty string)"});
  else
    spec.output = std::filesystem::absolute(doc["output"].get<std::string>()).lexically_normal();

  if (doc.contains("label")) {
    if (!doc["label"].is_string())
      errors.push_back({"/label", "must be a string template such as \"{/optimizer/type}\""});
    else {
      spec.label_template = doc["label"].get<std::string>();
      if (can_check) check_template(spec.label_template, resolved, errors);
    }
  }
  if (!errors.empty()) throw runs::ConfigInvalid(source.string(), std::move(errors));
  return spec;
}

SweepSpec load_sweep_file(const std::filesystem::path& path, const ConfigLoader& load, const ConfigResolver& resolve) {
  std::ifstream in(path);
  if (!in) throw runs::ConfigInvalid(path.string(), {{"", "cannot open the sweep file"}});
  json doc;
  try {
    doc = json::parse(in);
  } catch (const json::exception& e) {  // parse_error, or out_of_range for a number beyond double (1e400)
    throw runs::ConfigInvalid(path.string(), {{"", std::string("not valid JSON: ") + e.what()}});
  }
  return parse_sweep(doc, path, load, resolve);
}

std::vector<PlannedRun> expand_sweep(const SweepSpec& spec, const ConfigResolver& resolve) {
  // Cartesian product over the axes and the zip groups (each group one
  // dimension whose length is its lists' common length).
  std::vector<Assignment> points{{}};
  auto multiply = [&](const std::vector<SweepAxis>& lockstep) {
    std::vector<Assignment> next;
    for (const Assignment& prefix : points)
      for (std::size_t i = 0; i < lockstep.front().values.size(); ++i) {
        Assignment a = prefix;
        for (const SweepAxis& axis : lockstep) a.emplace_back(axis.pointer, axis.values[i]);
        next.push_back(std::move(a));
      }
    points = std::move(next);
  };
  for (const SweepAxis& axis : spec.axes) multiply({axis});
  for (const auto& group : spec.zips) multiply(group);

  std::vector<PlannedRun> runs;
  for (const Assignment& point : points) {
    std::string group;
    for (const auto& [pointer, value] : point)
      group += (group.empty() ? "" : "_") + last_token(pointer) + "=" + label_value(value);
    for (std::int64_t seed : spec.seeds) {
      PlannedRun run;
      run.seed = seed;
      json config = spec.base_resolved;
      for (const auto& [pointer, value] : point) config[json::json_pointer(pointer)] = value;
      config["train"]["seed"] = seed;
      try {
        run.config = resolve(config, spec.source.string() + " (run " + group + " seed " + std::to_string(seed) + ")");
      } catch (const runs::ConfigInvalid& e) {
        run.config = config;
        run.config_error = e.what();
      }
      const std::string label = spec.label_template.empty() ? group : render_template(spec.label_template, run.config);
      run.group = sanitize(label.empty() ? spec.base_name : label);
      run.hash = config_hash(run.config);
      run.name = run.group + "-s" + std::to_string(seed) + "-" + run.hash.substr(0, 8);
      run.config["output"]["dir"] = (spec.output / run.name).string();
      runs.push_back(std::move(run));
    }
  }
  disambiguate_groups(runs);
  return runs;
}

json plan_to_json(const SweepSpec& spec, const std::vector<PlannedRun>& runs) {
  json plan;
  plan["sweep"] = spec.source.string();
  plan["output"] = spec.output.string();
  plan["runs"] = json::array();
  for (const PlannedRun& run : runs) {
    json r = {{"name", run.name}, {"group", run.group}, {"seed", run.seed}, {"hash", run.hash}};
    if (!run.config_error.empty()) r["config_error"] = run.config_error;
    plan["runs"].push_back(std::move(r));
  }
  return plan;
}

}  // namespace zimt::experiments
