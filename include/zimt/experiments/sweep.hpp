#pragma once
// Sweep files and their expansion into a plan of runs.
//
// A sweep file is a JSON object:
//   "base":   a config path (relative to the sweep file's directory) or an
//             inline config object (which may itself name a "base");
//   "axes":   { JSON pointer: [values...] }, combined as a cartesian product
//             (keys in sorted order; the first key varies slowest);
//   "zip":    [ { pointer: [values...], ... }, ... ], each group's lists
//             advance together (equal lengths), and the groups multiply with
//             the axes;
//   "seeds":  [1, 2, 3] or a count n (= 1..n), written to /train/seed;
//   "output": the sweep directory (relative to the current directory);
//   "label":  optional template for the group name, "{/optimizer/type}-n{/optimizer/n}"
//             (each {pointer} is replaced by that value in the run's config);
//   "//":     a comment, ignored.
// Every axis pointer must name a key of the resolved base config, set one
// value (no pointer repeats another axis's or lies inside or around it) and
// leave /train/seed and /output/dir to the sweep (no axis /train or /output
// either: it would replace them). Problems
// are reported all at once as runs::ConfigInvalid with the pointer into the sweep
// file.
//
// Each run's config = resolved base with the axis values and the seed set,
// then resolved again (so a bad value on one axis fails that run, at train
// time, and not the whole sweep). Its identity is config_hash(): FNV-1a 64
// over the canonical dump (nlohmann's dump() sorts object keys and prints
// numbers in shortest round-trip form, so the hash is stable across runs,
// processes and machines) of the config without its placement keys
// (/output/dir and /train/threads) and "//" comments, none of which change
// results.
#include "zimt/runs/config_error.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace zimt::experiments {

// Resolves a config document (defaults, model by name, validation); throws
// runs::ConfigInvalid. The CLI passes the real resolver; tests may pass their own.
using ConfigResolver = std::function<nlohmann::json(const nlohmann::json& config, const std::string& source)>;

// Loads a config file with its "base" chain (unresolved). Used for "base": "path".
using ConfigLoader = std::function<nlohmann::json(const std::filesystem::path& path)>;

struct SweepAxis {
  std::string pointer;  // "/optimizer/type"
  std::vector<nlohmann::json> values;
};

struct SweepSpec {
  std::filesystem::path source;              // the sweep file, for messages
  nlohmann::json base_resolved;              // resolved base config
  std::vector<SweepAxis> axes;               // cartesian axes, sorted by pointer
  std::vector<std::vector<SweepAxis>> zips;  // each group advances together
  std::vector<std::int64_t> seeds;
  std::filesystem::path output;
  std::string label_template;  // "" = default label from axis values
  std::string base_name;       // group name when there are no axes
};

struct PlannedRun {
  std::string name;   // directory name: <group>-s<seed>-<hash8>
  std::string group;  // readable label of the axis values
  std::int64_t seed = 0;
  std::string hash;          // config_hash() of config, 16 hex digits
  nlohmann::json config;     // full config to train (resolved when valid)
  std::string config_error;  // non-empty when config did not resolve
};

// Parses and validates a sweep document. `sweep_dir` anchors a base path.
SweepSpec parse_sweep(const nlohmann::json& doc, const std::filesystem::path& source, const ConfigLoader& load,
                      const ConfigResolver& resolve);

// Reads a sweep file (JSON errors become runs::ConfigInvalid naming the file).
SweepSpec load_sweep_file(const std::filesystem::path& path, const ConfigLoader& load, const ConfigResolver& resolve);

// The cartesian product of axes × zipped groups × seeds, in a fixed order
// (axis combination, then zip position, then seed).
std::vector<PlannedRun> expand_sweep(const SweepSpec& spec, const ConfigResolver& resolve);

// FNV-1a 64 of the canonical dump of `config` minus /output/dir,
// /train/threads and "//" comments, as 16 lowercase hex digits.
std::string config_hash(const nlohmann::json& config);

// The plan as written to <output>/plan.json.
nlohmann::json plan_to_json(const SweepSpec& spec, const std::vector<PlannedRun>& runs);

}  // namespace zimt::experiments
