// Run configs: base chains, overrides, defaults, strict validation with pointers.
#include "zimt/runs/config.hpp"
#include "zimt/runs/config_enums.hpp"
#include "zimt/runs/run_config.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;
using nlohmann::json;
using zimt::runs::ConfigInvalid;

namespace {

const json kInlineModel = {{"name", "probe"},
                           {"input", {1, 4, 4}},
                           {"classes", 2},
                           {"layers", {{{"kind", "flatten"}}, {{"kind", "linear"}, {"out", 2}}}}};

json with_model(json config) {
  config["model"] = kInlineModel;
  return config;
}

// Resolves and returns the list of "pointer: message" problems (empty when valid).
std::vector<std::string> problems(const json& config, const std::vector<std::string>& overrides = {}) {
  try {
    zimt::runs::resolve_config(config, overrides, "test.json");
    return {};
  } catch (const ConfigInvalid& e) {
    std::vector<std::string> out;
    for (const auto& err : e.errors()) out.push_back(err.str());
    return out;
  }
}

bool has_problem(const std::vector<std::string>& all, const std::string& needle) {
  for (const auto& p : all)
    if (p.find(needle) != std::string::npos) return true;
  return false;
}

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("zimt_config_test_" + std::to_string(::getpid()));
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
  fs::path write(const std::string& name, const json& j) const {
    std::ofstream(path / name) << j.dump(2);
    return path / name;
  }
};

}  // namespace

TEST_CASE("defaults fill every key the config leaves out") {
  const json resolved = zimt::runs::resolve_config(with_model({{"train", {{"epochs", 3}}}}), {}, "t");
  CHECK(resolved["/train/epochs"_json_pointer] == 3);
  CHECK(resolved["/train/batch_size"_json_pointer] == 64);
  CHECK(resolved["/optimizer/type"_json_pointer] == "zim");
  CHECK(resolved["/data/normalize/std"_json_pointer] == doctest::Approx(0.3081));
  CHECK(problems(with_model(json::object())).empty());
}

TEST_CASE("each kind of error names its pointer, and all are reported at once") {
  const json config = with_model({{"optimizer", {{"n", -5}, {"lrr", 0.1}, {"rule", "nope"}}},
                                  {"train", {{"batch_size", "64"}, {"epochs", 1.5}, {"threads", -1}}},
                                  {"data", {{"normalize", {{"std", 0.0}}}}},
                                  {"extra", true}});
  const auto all = problems(config);
  CHECK(all.size() == 8);
  CHECK(has_problem(all, "/optimizer/n: must be >= 0, got -5"));
  CHECK(has_problem(all, "/optimizer/lrr: unknown key 'lrr' (did you mean 'lr'?)"));
  CHECK(has_problem(all, "/optimizer/rule: must be one of \"authors\", \"zero_inflated\", got \"nope\""));
  CHECK(has_problem(all, "/train/batch_size: must be an integer, got a string \"64\""));
  CHECK(has_problem(all, "/train/epochs: must be an integer, got a number 1.5"));
  CHECK(has_problem(all, "/train/threads: must be >= 0, got -1"));
  CHECK(has_problem(all, "/data/normalize/std: must be > 0"));
  CHECK(has_problem(all, "/extra: unknown key 'extra'"));
}

TEST_CASE("objects where values belong, and values where objects belong, are errors") {
  const auto all = problems(with_model({{"train", 5}, {"data", {{"normalize", {{"mean", {{"x", 1}}}}}}}}));
  CHECK(has_problem(all, "/train: must be an object, got an integer 5"));
  CHECK(has_problem(all, "/data/normalize/mean: must be a number, got an object"));
}

TEST_CASE("n is a trial count or a fraction of d") {
  CHECK(problems(with_model({{"optimizer", {{"n", 1000}}}})).empty());
  CHECK(problems(with_model({{"optimizer", {{"n", {{"fraction", 0.5}}}}}})).empty());
  CHECK(has_problem(problems(with_model({{"optimizer", {{"n", {{"fractio", 0.5}}}}}})),
                    "/optimizer/n: must be an integer or"));
  CHECK(has_problem(problems(with_model({{"optimizer", {{"n", {{"fraction", -1}}}}}})), "must be >= 0"));
}

TEST_CASE("real-valued optimizer parameters stay inside Q32.32's range") {
  CHECK(problems(with_model({{"optimizer", {{"rule", "zero_inflated"}, {"alpha", 1e9}}}})).empty());
  CHECK(has_problem(problems(with_model({{"optimizer", {{"rule", "zero_inflated"}, {"alpha", 1e10}}}})),
                    "/optimizer/alpha: must be <= 1000000000"));
  CHECK(has_problem(problems(with_model({{"optimizer", {{"c", 3e9}}}})), "/optimizer/c: must be <= 1000000000"));
}

TEST_CASE("--set overrides are parsed as JSON, else as strings, and validated like the file") {
  auto [ptr, value] = zimt::runs::parse_override("/train/epochs=3");
  CHECK(ptr.to_string() == "/train/epochs");
  CHECK(value == 3);
  CHECK(zimt::runs::parse_override("/data/train=data/x.zds").second == "data/x.zds");
  CHECK(zimt::runs::parse_override("/optimizer/n={\"fraction\":0.25}").second["fraction"] == 0.25);
  CHECK_THROWS_WITH_AS(zimt::runs::parse_override("train/epochs=3"), doctest::Contains("is not a JSON pointer"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(zimt::runs::parse_override("/train/epochs"), doctest::Contains("expected POINTER=VALUE"),
                       std::invalid_argument);

  const json resolved = zimt::runs::resolve_config(with_model({}), {"/train/epochs=7", "/train/seed=42"}, "t");
  CHECK(resolved["/train/epochs"_json_pointer] == 7);
  CHECK(resolved["/train/seed"_json_pointer] == 42);
  CHECK(has_problem(problems(with_model({}), {"/train/batch_size=0"}), "/train/batch_size: must be >= 1, got 0"));
  CHECK(has_problem(problems(with_model({}), {"/train/eval_batch=0"}), "/train/eval_batch: must be >= 1, got 0"));
  CHECK(has_problem(problems(with_model({}), {"/train/eval_batch=65537"}),
                    "/train/eval_batch: must be <= 65536, got 65537"));
  CHECK(zimt::runs::to_run_config(zimt::runs::resolve_config(with_model({}), {"/train/eval_batch=512"}, "t"), "t")
            .eval_batch == 512);
  CHECK(has_problem(problems(with_model({}), {"/train/epochz=2"}), "/train/epochz: unknown key"));
}

TEST_CASE("a --set index past the end of an array is refused before the write allocates the gap") {
  // tests/fuzz/regressions/config/set-index-past-end: the write would have
  // filled a new array with 10^9 nulls (std::bad_alloc).
  CHECK(has_problem(problems(with_model({}), {"/foo/1000000000=1"}),
                    "--set '/foo/1000000000=1': index 1000000000 is past the end of /foo (0 elements"));
  CHECK(has_problem(problems(with_model({}), {"/model/layers/3={}"}),
                    "index 3 is past the end of /model/layers (2 elements"));
  CHECK(has_problem(problems(with_model({}), {"/model/layers/99999999999999999999999=1"}), "is past the end of"));
  const json appended = zimt::runs::resolve_config(with_model({}), {"/model/layers/2={\"kind\": \"relu\"}"}, "t");
  CHECK(appended["/model/layers/2/kind"_json_pointer] == "relu");
  const json replaced = zimt::runs::resolve_config(with_model({}), {"/model/layers/1/out=2"}, "t");
  CHECK(replaced["/model/layers/1/out"_json_pointer] == 2);
}

TEST_CASE("a --set override that is not UTF-8 is refused where it is parsed") {
  // tests/fuzz/regressions/config/set-not-utf8: the bytes failed later, in
  // the validator's message, as an escaped nlohmann::json::type_error.
  CHECK_THROWS_WITH_AS(zimt::runs::parse_override("/train/epochs=\xff"), doctest::Contains("not valid UTF-8"),
                       std::invalid_argument);
  CHECK(has_problem(problems(with_model({}), {"/train/epochs=\xff"}), "--set '/train/epochs=\xff': not valid UTF-8"));
  CHECK(has_problem(problems(with_model({}), {"/train/epoch\xc3=1"}), "not valid UTF-8"));
  CHECK(zimt::runs::parse_override("/data/train=d\xc3\xa4ten.zds").second == "d\xc3\xa4ten.zds");
}

TEST_CASE("a config inherits from its base and overrides parts of it") {
  TempDir dir;
  dir.write("parent.json",
            with_model({{"train", {{"epochs", 10}, {"batch_size", 32}}}, {"optimizer", {{"type", "int_sgd"}}}}));
  const auto child = dir.write("child.json", {{"base", "parent.json"}, {"train", {{"epochs", 2}}}});
  const json resolved = zimt::runs::load_resolved_config(child, {});
  CHECK(resolved["/train/epochs"_json_pointer] == 2);
  CHECK(resolved["/train/batch_size"_json_pointer] == 32);
  CHECK(resolved["/optimizer/type"_json_pointer] == "int_sgd");
  CHECK_FALSE(resolved.contains("base"));

  const auto loop_a = dir.write("a.json", {{"base", "b.json"}});
  dir.write("b.json", {{"base", "a.json"}});
  CHECK_THROWS_WITH(zimt::runs::load_resolved_config(loop_a, {}), doctest::Contains("cycle"));
  const auto missing = dir.write("m.json", {{"base", "nowhere.json"}});
  CHECK_THROWS_WITH(zimt::runs::load_resolved_config(missing, {}),
                    doctest::Contains("/base: no config 'nowhere.json'"));
}

TEST_CASE("malformed files are reported with their path") {
  TempDir dir;
  std::ofstream(dir.path / "bad.json") << "{\"train\": ";
  CHECK_THROWS_WITH(zimt::runs::load_resolved_config(dir.path / "bad.json", {}), doctest::Contains("not valid JSON"));
  CHECK_THROWS_WITH(zimt::runs::load_resolved_config(dir.path / "none.json", {}), doctest::Contains("cannot open"));
  // A number beyond double is nlohmann's out_of_range, not a parse_error
  // (tests/fuzz/regressions/sweep/number-beyond-double found it in a sweep file).
  std::ofstream(dir.path / "huge.json") << "{\"train\": {\"epochs\": 1e400}}";
  CHECK_THROWS_WITH_AS(
      zimt::runs::load_resolved_config(dir.path / "huge.json", {}),
      doctest::Contains("huge.json: not valid JSON: [json.exception.out_of_range.406] number overflow"),
      std::runtime_error);
}

TEST_CASE("an unknown model name is named at /model") {
  CHECK(has_problem(problems({{"model", "no_such_model_xyz"}}), "/model: unknown model 'no_such_model_xyz'"));
}

TEST_CASE("a named model is expanded into the resolved config, and model problems carry /model pointers") {
  const json resolved = zimt::runs::resolve_config({{"model", "mnist_cnn"}}, {}, "t");
  CHECK(resolved["/model/name"_json_pointer] == "mnist_cnn");
  CHECK(resolved["/model/layers"_json_pointer].size() > 5);
  // Overrides reach into a named model, and are validated with it.
  const json wide = zimt::runs::resolve_config({{"model", "mnist_cnn"}}, {"/model/norm_activations=int16"}, "t");
  CHECK(wide["/model/norm_activations"_json_pointer] == "int16");
  CHECK(has_problem(problems({{"model", "mnist_cnn"}}, {"/model/norm_activations=int4"}),
                    "/model/norm_activations: must be \"int8\" or \"int16\""));
  // An override naming another model replaces it.
  CHECK(zimt::runs::resolve_config({{"model", "mnist_cnn"}}, {"/model=mlp"}, "t")["/model/name"_json_pointer] == "mlp");
  json bad = kInlineModel;
  bad["layers"][1]["out"] = -3;
  const auto all = problems({{"model", bad}});
  REQUIRE(all.size() == 1);
  CHECK(has_problem(all, "/model/layers/1/out"));
}

TEST_CASE("every shipped run config resolves cleanly") {
  int checked = 0;
  for (const auto& entry : fs::directory_iterator(fs::path(ZIMT_SOURCE_DIR) / "configs")) {
    if (entry.path().extension() != ".json") continue;
    INFO(entry.path().string());
    CHECK_NOTHROW(zimt::runs::load_resolved_config(entry.path(), {}));
    ++checked;
  }
  CHECK(checked >= 20);
}

TEST_CASE("keys starting with // are comments") {
  CHECK(problems(with_model({{"//", "a note"}, {"train", {{"// why", "fast"}, {"epochs", 1}}}})).empty());
}

TEST_CASE("a schedule that does not fit the optimizer is a validation error, not a train-time one") {
  const json zim_lr = with_model({{"optimizer", {{"schedule", {{"kind", "step"}, {"param", "lr"}}}}}});
  CHECK(has_problem(problems(zim_lr), "/optimizer/schedule/param: \"lr\" does not apply to optimizer \"zim\""));
  const json sgd_n = with_model({{"optimizer", {{"type", "int_sgd"}, {"schedule", {{"kind", "cosine"}}}}}});
  CHECK(has_problem(problems(sgd_n), "/optimizer/schedule/param: \"n\" does not apply to optimizer \"int_sgd\""));
  // A constant schedule scales nothing, so its param is not checked.
  CHECK(problems(with_model({{"optimizer", {{"type", "int_sgd"}}}})).empty());
  CHECK(problems(with_model({{"optimizer", {{"type", "int_sgd"}, {"schedule", {{"kind", "step"}, {"param", "lr"}}}}}}))
            .empty());
}

TEST_CASE("every fixed-value option is validated from its table, and its default is one of its values") {
  for (const auto& option : zimt::runs::enum_options()) {
    CAPTURE(option.pointer);
    if (option.pointer.starts_with("/model/")) continue;  // checked by the model-spec parser
    const json::json_pointer ptr(option.pointer);
    REQUIRE(zimt::runs::default_config().contains(ptr));
    const std::string fallback = zimt::runs::default_config()[ptr].get<std::string>();
    CHECK(std::find(option.names.begin(), option.names.end(), fallback) != option.names.end());
    for (const auto& name : option.names) {
      json config = with_model({});
      config[ptr] = name;
      // Each value alone is accepted unless a cross-field rule objects (schedule params).
      if (option.pointer != "/optimizer/schedule/param") CHECK(problems(config).empty());
    }
    json config = with_model({});
    config[ptr] = "no_such_value";
    CHECK(has_problem(problems(config), option.pointer + ": must be one of " + zimt::runs::quoted_list(option.names)));
  }
}

TEST_CASE("the enum tables map each spelling to a distinct value and back") {
  using namespace zimt::runs;
  for (const auto& e : kOptimizerTypes)
    CHECK(std::string(enum_name(kOptimizerTypes, *enum_value(kOptimizerTypes, e.name))) == e.name);
  for (const auto& e : kInitKinds) CHECK(std::string(enum_name(kInitKinds, *enum_value(kInitKinds, e.name))) == e.name);
  for (const auto& e : kScheduleParams)
    CHECK(std::string(enum_name(kScheduleParams, *enum_value(kScheduleParams, e.name))) == e.name);
  CHECK(enum_value(kInitKinds, "float") == zimt::optim::InitKind::float_quantized);
  CHECK_FALSE(enum_value(kWeightStorages, "int4").has_value());
  CHECK(enum_options_help().find("/optimizer/type") != std::string::npos);
  CHECK(enum_options_help().find("zim | int_sgd | sign_sgd") != std::string::npos);
}
