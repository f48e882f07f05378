// Sweep files: validation, grid expansion, run naming and config hashing.
#include "zimt/experiments/sweep.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include <unistd.h>

using nlohmann::json;
using namespace zimt::experiments;

namespace {

// A resolver with one validation rule, enough to see a bad axis value fail
// only its own runs: /optimizer/n must be positive.
json test_resolve(const json& config, const std::string& source) {
  if (config["optimizer"]["n"].get<int>() <= 0)
    throw zimt::runs::ConfigInvalid(source, {{"/optimizer/n", "must be > 0"}});
  return config;
}

json load_nothing(const std::filesystem::path& path) {
  throw zimt::runs::ConfigInvalid(path.string(), {{"", "no files in this test"}});
}

const json kBase = {{"optimizer", {{"type", "zim"}, {"rule", "authors"}, {"init", "authors"}, {"n", 4}}},
                    {"train", {{"seed", 0}, {"threads", 1}, {"epochs", 1}}},
                    {"output", {{"dir", ""}}}};

SweepSpec parse(const json& doc) { return parse_sweep(doc, "test_sweep.json", load_nothing, test_resolve); }

// Every problem reported, as "pointer: message" strings.
std::vector<std::string> problems(const json& doc) {
  try {
    parse(doc);
  } catch (const zimt::runs::ConfigInvalid& e) {
    std::vector<std::string> out;
    for (const auto& err : e.errors()) out.push_back(err.str());
    return out;
  }
  return {};
}

bool has_problem_at(const std::vector<std::string>& ps, const std::string& pointer) {
  return std::any_of(ps.begin(), ps.end(), [&](const std::string& p) { return p.rfind(pointer + ": ", 0) == 0; });
}

}  // namespace

TEST_CASE("sweep: cartesian axes x seeds expand in a fixed order") {
  const json doc = {{"base", kBase},
                    {"axes", {{"/optimizer/type", {"zim", "int_sgd"}}, {"/optimizer/n", {1, 8, 64}}}},
                    {"seeds", 2},
                    {"output", "runs/x"}};
  const auto runs = expand_sweep(parse(doc), test_resolve);
  REQUIRE(runs.size() == 2 * 3 * 2);
  // Axes in sorted pointer order, the first slowest, then seeds.
  CHECK(runs[0].group == "n=1_type=zim");
  CHECK(runs[1].group == "n=1_type=zim");
  CHECK(runs[0].seed == 1);
  CHECK(runs[1].seed == 2);
  CHECK(runs[2].group == "n=1_type=int_sgd");
  CHECK(runs[11].group == "n=64_type=int_sgd");
  CHECK(runs[11].config["optimizer"]["n"] == 64);
  CHECK(runs[11].config["optimizer"]["type"] == "int_sgd");
  CHECK(runs[11].config["train"]["seed"] == 2);
  CHECK(runs[11].config["optimizer"]["rule"] == "authors");  // untouched keys keep the base value
  std::set<std::string> names;
  for (const auto& r : runs) {
    names.insert(r.name);
    CHECK(r.name == r.group + "-s" + std::to_string(r.seed) + "-" + r.hash.substr(0, 8));
    CHECK(r.config["output"]["dir"].get<std::string>().ends_with("/runs/x/" + r.name));
    CHECK(r.config_error.empty());
  }
  CHECK(names.size() == runs.size());
}

TEST_CASE("sweep: zipped lists advance together and multiply with the axes") {
  const json doc = {{"base", kBase},
                    {"axes", {{"/optimizer/type", {"zim", "int_sgd"}}}},
                    {"zip", json::parse(R"([{"/optimizer/rule": ["authors", "zero_inflated", "authors"],
                                            "/optimizer/init": ["authors", "dense", "dense"]}])")},
                    {"seeds", {7}},
                    {"output", "out"}};
  const auto runs = expand_sweep(parse(doc), test_resolve);
  REQUIRE(runs.size() == 2 * 3);
  std::set<std::pair<std::string, std::string>> rule_init;
  for (const auto& r : runs) {
    CHECK(r.seed == 7);
    rule_init.insert(
        {r.config["optimizer"]["rule"].get<std::string>(), r.config["optimizer"]["init"].get<std::string>()});
  }
  // Three zipped pairs, never the cross product (zero_inflated+authors absent).
  CHECK(rule_init == std::set<std::pair<std::string, std::string>>{
                         {"authors", "authors"}, {"zero_inflated", "dense"}, {"authors", "dense"}});
  CHECK(runs[0].group == "type=zim_init=authors_rule=authors");
  CHECK(runs[1].group == "type=zim_init=dense_rule=zero_inflated");
}

TEST_CASE("sweep: every problem is reported with its pointer") {
  const json doc = {
      {"base", kBase},
      {"axes", {{"/optimizer/typo", {"zim"}}, {"optimizer/type", {"zim"}}, {"/optimizer/n", json::array()}}},
      {"zip", json::parse(R"([{"/optimizer/rule": ["authors", "zero_inflated"], "/optimizer/init": ["authors"]}])")},
      {"seeds", {1, 1}},
      {"colour", "red"}};
  const auto ps = problems(doc);
  CHECK(has_problem_at(ps, "/axes/~1optimizer~1typo"));
  CHECK(has_problem_at(ps, "/axes/optimizer~1type"));
  CHECK(has_problem_at(ps, "/axes/~1optimizer~1n"));
  CHECK(has_problem_at(ps, "/zip/0/~1optimizer~1rule"));  // 2 values vs 1 for /optimizer/init
  CHECK(has_problem_at(ps, "/seeds/1"));                  // seed listed twice
  CHECK(has_problem_at(ps, "/colour"));
  CHECK(has_problem_at(ps, "/output"));
  CHECK(ps.size() == 7);
  // The message names the bad pointer itself, readable.
  CHECK(std::any_of(ps.begin(), ps.end(),
                    [](const std::string& p) { return p.find("\"/optimizer/typo\"") != std::string::npos; }));
}

TEST_CASE("sweep: an axis given twice, seeds and output keys are rejected as axes") {
  const json doc = {{"base", kBase},
                    {"axes", {{"/optimizer/type", {"zim"}}, {"/train/seed", {1, 2}}}},
                    {"zip", json::parse(R"([{"/optimizer/type": ["int_sgd"]}])")},
                    {"seeds", 0},
                    {"output", "o"}};
  const auto ps = problems(doc);
  CHECK(has_problem_at(ps, "/axes/~1train~1seed"));
  CHECK(has_problem_at(ps, "/zip/0/~1optimizer~1type"));
  CHECK(has_problem_at(ps, "/seeds"));
  CHECK(ps.size() == 3);
}

TEST_CASE("sweep: an axis inside another, or around a key the sweep sets, is rejected") {
  const json doc = {{"base", kBase},
                    {"axes", {{"/optimizer", {json::object()}}, {"/output", {"x"}}, {"/train/epochs", {1}}}},
                    {"zip", json::parse(R"([{"/optimizer/n": [4]}, {"/train": [1]}])")},
                    {"seeds", 1},
                    {"output", "o"}};
  const auto ps = problems(doc);
  CHECK(has_problem_at(ps, "/axes/~1output"));         // would replace /output/dir
  CHECK(has_problem_at(ps, "/zip/0/~1optimizer~1n"));  // inside the axis /optimizer
  CHECK(has_problem_at(ps, "/zip/1/~1train"));         // around /train/epochs, and would replace /train/seed
  CHECK(ps.size() == 4);
  // A pointer that only shares a prefix of characters is a different key.
  const json apart = {
      {"base", {{"optimizer", {{"n", 4}, {"n2", 1}}}, {"train", {{"seed", 0}}}, {"output", {{"dir", ""}}}}},
      {"axes", {{"/optimizer/n", {4}}, {"/optimizer/n2", {1, 2}}}},
      {"seeds", 1},
      {"output", "o"}};
  CHECK(problems(apart).empty());
}

TEST_CASE("sweep: a bad value on one axis fails only its runs") {
  const json doc = {{"base", kBase}, {"axes", {{"/optimizer/n", {4, -1}}}}, {"seeds", 2}, {"output", "o"}};
  const auto runs = expand_sweep(parse(doc), test_resolve);
  REQUIRE(runs.size() == 4);
  CHECK(runs[0].config_error.empty());
  CHECK(runs[1].config_error.empty());
  CHECK(runs[2].config_error.find("/optimizer/n: must be > 0") != std::string::npos);
  CHECK(runs[3].config_error.find("/optimizer/n: must be > 0") != std::string::npos);
  CHECK(runs[2].config["optimizer"]["n"] == -1);  // kept as written, so train reports it too
}

TEST_CASE("sweep: label templates and colliding labels") {
  json doc = {{"base", kBase},
              {"axes", {{"/optimizer/type", {"zim", "int_sgd"}}, {"/optimizer/n", {1, 2}}}},
              {"label", "{/optimizer/type} rule {/optimizer/rule}"},
              {"seeds", 1},
              {"output", "o"}};
  const auto runs = expand_sweep(parse(doc), test_resolve);
  REQUIRE(runs.size() == 4);
  // The template ignores /optimizer/n, so two grid points share a label;
  // they must still be separate groups.
  std::set<std::string> groups;
  for (const auto& r : runs) {
    groups.insert(r.group);
    CHECK((r.group.rfind("zim_rule_authors-", 0) == 0 || r.group.rfind("int_sgd_rule_authors-", 0) == 0));
  }
  CHECK(groups.size() == 4);
  doc["label"] = "{/optimizer/nope}";
  CHECK(has_problem_at(problems(doc), "/label"));
}

TEST_CASE("sweep: config hash is FNV-1a 64 of the canonical dump, without placement keys") {
  // FNV-1a 64 reference values: "" -> cbf29ce484222325, "a" -> af63dc4c8601ec8c.
  CHECK(config_hash(json::object()) == "08f44b07b5901a25");  // of "{}"
  const json a = json::parse(R"({"train":{"seed":3,"epochs":1.5},"optimizer":{"type":"zim","n":4}})");
  const json b = json::parse(R"({"optimizer":{"n":4,"type":"zim"},"train":{"epochs":1.5,"seed":3,"threads":8},
                                 "output":{"dir":"/somewhere/else"},"//":"a comment"})");
  // Computed independently (Python) over {"optimizer":{"n":4,"type":"zim"},"train":{"epochs":1.5,"seed":3}}.
  CHECK(config_hash(a) == "ab733dc2bb6d1028");
  CHECK(config_hash(b) == "ab733dc2bb6d1028");
  json c = a;
  c["train"]["seed"] = 4;
  CHECK(config_hash(c) != config_hash(a));
}

TEST_CASE("sweep: a file that is not JSON, or holds a number beyond double, is named in the error") {
  // tests/fuzz/regressions/sweep/number-beyond-double: nlohmann reports such
  // a number as out_of_range, not parse_error, and it escaped the reader.
  const auto dir = std::filesystem::temp_directory_path() / ("zimt_sweep_plan_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "huge.json") << "{\"seeds\": 1e400}";
  std::ofstream(dir / "cut.json") << "{\"seeds\": ";
  for (const char* name : {"huge.json", "cut.json"}) {
    CAPTURE(name);
    CHECK_THROWS_WITH_AS(load_sweep_file(dir / name, load_nothing, test_resolve),
                         doctest::Contains((std::string(name) + ": 1 problem\n  /: not valid JSON: ").c_str()),
                         zimt::runs::ConfigInvalid);
  }
  std::filesystem::remove_all(dir);
}
