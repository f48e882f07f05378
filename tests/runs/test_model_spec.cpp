// Model descriptions: the shipped models parse, their parameter counts match
// the paper's models, and every kind of bad description is an error naming its JSON
// pointer.
#include "zimt/runs/model_spec.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

using nlohmann::json;
using zimt::runs::ConfigErrors;

namespace {

const std::filesystem::path models_dir = std::filesystem::path(ZIMT_SOURCE_DIR) / "configs" / "models";

int64_t param_count(const zimt::ModelSpec& spec) {
  int64_t n = 0;
  zimt::Shape3 shape = spec.input;
  for (const auto& layer : spec.layers) {
    zimt::Shape3 out;
    REQUIRE(zimt::layer_output_shape(layer, shape, out).empty());
    n += zimt::layer_param_count(layer, shape);
    shape = out;
  }
  return n;
}

// Parses `text` as a model at "/model" and returns the errors.
ConfigErrors errors_of(const std::string& text) {
  ConfigErrors errors;
  zimt::runs::parse_model_spec(json::parse(text), "/model", errors);
  return errors;
}

bool has_error(const ConfigErrors& errors, const std::string& pointer, const std::string& fragment) {
  for (const auto& e : errors)
    if (e.pointer == pointer && e.message.find(fragment) != std::string::npos) return true;
  return false;
}

std::string list(const ConfigErrors& errors) {
  std::string s;
  for (const auto& e : errors) s += e.str() + "\n";
  return s;
}

const char* good_layers = R"("layers": [{"kind": "flatten"}, {"kind": "linear", "out": 4}])";

}  // namespace

TEST_CASE("shipped model descriptions parse and have the paper's parameter counts") {
  // The paper's models: CNN 421,642; MLP 784*128+128 + 128*10+10 = 101,770; ResNet-18
  // without BatchNorm's 9,600 gamma/beta (parameter-free LayerNorm in their
  // place): 11,165,770 (torchvision's 11,689,512 for 3 channels and 1000
  // classes, minus 6,272 for the 1-channel stem, minus 507,870 for the
  // 10-class head, minus 9,600).
  CHECK(param_count(zimt::runs::load_named_model_spec("mnist_cnn", models_dir)) == 421642);
  CHECK(param_count(zimt::runs::load_named_model_spec("mlp", models_dir)) == 101770);
  CHECK(param_count(zimt::runs::load_named_model_spec("resnet18", models_dir)) == 11165770);
  for (const char* name : {"tiny", "small_resnet"}) {
    const auto spec = zimt::runs::load_named_model_spec(name, models_dir);
    CHECK(spec.name == name);
    CHECK(param_count(spec) > 0);
    CHECK(param_count(spec) < 20000);
  }
}

TEST_CASE("resnet18 parameter names follow torchvision") {
  const auto spec = zimt::runs::load_named_model_spec("resnet18", models_dir);
  const auto names = zimt::default_layer_names(spec);
  REQUIRE(names.size() == spec.layers.size());
  CHECK(names[0] == "conv1");
  CHECK(names[4] == "layer1.0");
  CHECK(names[5] == "layer1.1");
  CHECK(names[6] == "layer2.0");
  CHECK(names[11] == "layer4.1");
  CHECK(names[13] == "fc");
}

TEST_CASE("a pool's stride defaults to its kernel") {
  ConfigErrors errors;
  const auto spec = zimt::runs::parse_model_spec(
      json::parse(R"({"name": "m", "input": [1, 8, 8], "classes": 4, "layers": [{"kind": "maxpool", "kernel": 2},
                     {"kind": "flatten"}, {"kind": "linear", "out": 4}]})"),
      "", errors);
  REQUIRE_MESSAGE(errors.empty(), list(errors));
  CHECK(spec.layers[0].stride == 2);
  CHECK(spec.layers[2].bias);
}

TEST_CASE("bad model descriptions are reported with their JSON pointers") {
  SUBCASE("not an object") { CHECK(has_error(errors_of("[1, 2]"), "/model", "must be an object")); }
  SUBCASE("missing and unknown top-level keys") {
    const auto e = errors_of(R"({"name": "m", "input": [1, 4, 4], "layerz": []})");
    CHECK(has_error(e, "/model", "missing key 'classes'"));
    CHECK(has_error(e, "/model", "missing key 'layers'"));
    CHECK(has_error(e, "/model/layerz", "unknown key"));
  }
  SUBCASE("wrong types") {
    const auto e =
        errors_of(std::string(R"({"name": 3, "input": [1, 4.5, "4"], "classes": 4.0, )") + good_layers + "}");
    CHECK(has_error(e, "/model/name", "non-empty string"));
    CHECK(has_error(e, "/model/input/1", "must be an integer"));
    CHECK(has_error(e, "/model/input/2", "must be an integer"));
    CHECK(has_error(e, "/model/classes", "must be an integer"));
  }
  SUBCASE("input is not a triple") {
    CHECK(has_error(errors_of(std::string(R"({"name": "m", "input": [4, 4], "classes": 4, )") + good_layers + "}"),
                    "/model/input", "[channels, height, width]"));
  }
  SUBCASE("layer problems") {
    const auto e = errors_of(R"({"name": "m", "input": [1, 8, 8], "classes": 4, "layers": [
        {"kind": "conv2d", "out": 4, "kernel": 3, "paddin": 1},
        {"kind": "conv2d", "kernel": 3},
        {"kind": "dropout"},
        {"out": 3},
        {"kind": "linear", "out": -2, "bias": 1},
        {"kind": "relu", "name": ""},
        7]})");
    CHECK(has_error(e, "/model/layers/0/paddin", "unknown key 'paddin'"));
    CHECK(has_error(e, "/model/layers/1", "missing key 'out'"));
    CHECK(has_error(e, "/model/layers/2/kind", "unknown layer kind 'dropout'"));
    CHECK(has_error(e, "/model/layers/3", "missing key 'kind'"));
    CHECK(has_error(e, "/model/layers/4/out", "must be in [1,"));
    CHECK(has_error(e, "/model/layers/4/bias", "true or false"));
    CHECK(has_error(e, "/model/layers/5/name", "non-empty string"));
    CHECK(has_error(e, "/model/layers/6", "must be an object"));
  }
  SUBCASE("huge values are out of range, not overflowed") {
    const auto e = errors_of(R"({"name": "m", "input": [1, 8, 18446744073709551615], "classes": 4, "layers": [
        {"kind": "conv2d", "out": 9223372036854775807, "kernel": 3}]})");
    CHECK(has_error(e, "/model/input/2", "must be in"));
    CHECK(has_error(e, "/model/layers/0/out", "must be in"));
  }
  SUBCASE("impossible shapes") {
    CHECK(has_error(errors_of(R"({"name": "m", "input": [1, 4, 4], "classes": 4, "layers": [
                        {"kind": "conv2d", "out": 4, "kernel": 7}, {"kind": "flatten"}, {"kind": "linear", "out": 4}]})"),
                    "/model/layers/0", "larger than the padded input"));
    CHECK(has_error(errors_of(R"({"name": "m", "input": [1, 4, 4], "classes": 4, "layers": [
                        {"kind": "linear", "out": 4}]})"),
                    "/model/layers/0", "flat input"));
    CHECK(has_error(errors_of(R"({"name": "m", "input": [1, 4, 4], "classes": 4, "layers": [
                        {"kind": "maxpool", "kernel": 2, "padding": 2}, {"kind": "flatten"}, {"kind": "linear", "out": 4}]})"),
                    "/model/layers/0", "half the kernel"));
    CHECK(has_error(errors_of(R"({"name": "m", "input": [1, 4, 4], "classes": 4, "layers": [
                        {"kind": "flatten"}, {"kind": "linear", "out": 5}]})"),
                    "/model", "classes is 4"));
  }
}

TEST_CASE("model files: missing, malformed and unsafe names are clear errors") {
  CHECK_THROWS_WITH_AS(zimt::runs::load_named_model_spec("no_such_model", models_dir),
                       doctest::Contains("no such model"), zimt::runs::ConfigInvalid);
  CHECK_THROWS_WITH_AS(zimt::runs::load_named_model_spec("../etc/passwd", models_dir),
                       doctest::Contains("letters, digits"), zimt::runs::ConfigInvalid);
  const auto bad = std::filesystem::temp_directory_path() / "zimt_test_model_spec_bad.json";
  { std::ofstream(bad) << "{\"name\": \"m\", "; }
  CHECK_THROWS_WITH_AS(zimt::runs::load_model_spec_file(bad), doctest::Contains("not valid JSON"),
                       zimt::runs::ConfigInvalid);
  std::filesystem::remove(bad);
}
