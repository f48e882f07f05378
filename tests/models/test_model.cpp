// The model factory: layer list, parameter names and counts (the paper's models),
// shapes, describe(), and rejection of impossible descriptions.
#include "layer_spec.hpp"
#include "zimt/model.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <stdexcept>

#include "zimt/runs/model_spec.hpp"

using namespace zimt;

using zimt::test::layer;

namespace {

// Whether the width pass made the layer's output int16.
bool int16_out(const ModelLayer& l) { return l.out_width == ActivationWidth::int16; }
const std::filesystem::path models_dir = std::filesystem::path(ZIMT_SOURCE_DIR) / "configs" / "models";
Model load(const char* name) { return build_model(runs::load_named_model_spec(name, models_dir)); }
}  // namespace

TEST_CASE("built models have the paper's parameter counts") {
  const Model cnn = load("mnist_cnn");
  MESSAGE(describe(cnn));
  CHECK(cnn.params.size() == 421642);
  const Model mlp = load("mlp");
  MESSAGE(describe(mlp));
  CHECK(mlp.params.size() == 101770);
  const Model resnet = load("resnet18");
  MESSAGE(describe(resnet));
  CHECK(resnet.params.size() == 11165770);  // torchvision's ResNet-18 (1 channel, 10 classes) minus BatchNorm's 9,600
  CHECK(describe(cnn).find("total parameters: 421642") != std::string::npos);
  // Each line names the layer's input and output widths (assign_activation_widths).
  CHECK(describe(cnn).find("conv1       conv2d          int8  int16 32x28x28") != std::string::npos);
  CHECK(describe(cnn).find("fc2         linear          int16 int16 10") != std::string::npos);
}

TEST_CASE("parameter names and shapes follow PyTorch") {
  const Model cnn = load("mnist_cnn");
  std::vector<std::string> names;
  for (const auto& t : cnn.params.tensors) names.push_back(t.name);
  CHECK(names == std::vector<std::string>{"conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "fc1.weight",
                                          "fc1.bias", "fc2.weight", "fc2.bias"});
  CHECK(cnn.params.tensors[0].shape == std::vector<int64_t>{32, 1, 3, 3});
  CHECK(cnn.params.tensors[4].shape == std::vector<int64_t>{128, 3136});
  CHECK(cnn.params.tensors[1].kind == ParamKind::bias);

  const Model resnet = load("resnet18");
  size_t downsample = 0;
  for (const auto& t : resnet.params.tensors) downsample += t.name.find("downsample.0.weight") != std::string::npos;
  CHECK(downsample == 3);  // layer2.0, layer3.0, layer4.0
  CHECK(resnet.params.tensors.front().name == "conv1.weight");
  CHECK(resnet.params.tensors.back().name == "fc.bias");
  CHECK(resnet.params.tensors[1].name == "layer1.0.conv1.weight");
}

TEST_CASE("layer output shapes") {
  const Model cnn = load("mnist_cnn");
  CHECK(layer_output_shape(cnn.layers[0], 5) == Shape{5, 32, 28, 28});
  CHECK(layer_output_shape(cnn.layers[2], 5) == Shape{5, 32, 14, 14});
  CHECK(layer_output_shape(cnn.layers[8], 5) == Shape{5, 3136});
  CHECK(layer_output_shape(cnn.layers.back(), 5) == Shape{5, 10});
  const Model resnet = load("resnet18");
  CHECK(layer_output_shape(resnet.layers[3], 2) == Shape{2, 64, 7, 7});
  CHECK(layer_output_shape(resnet.layers[11], 2) == Shape{2, 512, 1, 1});
  CHECK(layer_output_shape(resnet.layers[12], 2) == Shape{2, 512});
}

TEST_CASE("impossible models are refused when built") {
  ModelSpec spec;
  spec.name = "bad";
  spec.input = {1, 4, 4};
  spec.classes = 3;
  spec.layers = {layer(LayerKind::linear, 3)};
  CHECK_THROWS_AS(build_model(spec), std::invalid_argument);
  spec.layers = {layer(LayerKind::flatten), layer(LayerKind::linear, 4)};
  CHECK_THROWS_WITH(build_model(spec), doctest::Contains("classes is 3"));
}

TEST_CASE("block_activations: int8 by default, int16 for resnet18, validated with JSON pointers") {
  CHECK(runs::load_named_model_spec("small_resnet", models_dir).block_activations == ActivationWidth::int8);
  CHECK(runs::load_named_model_spec("mnist_cnn", models_dir).block_activations == ActivationWidth::int8);
  const Model resnet = load("resnet18");
  CHECK(resnet.spec.block_activations == ActivationWidth::int16);
  // int16 from the stem's conv1 through the last block (model.hpp); global_avgpool, fc and the logits' LN are int8.
  for (size_t i = 0; i < resnet.layers.size(); ++i) {
    CAPTURE(i);
    CHECK(int16_out(resnet.layers[i]) == (i < 12));
  }
  CHECK(resnet.layers[12].kind == LayerKind::global_avgpool);
  const Model small = load("small_resnet");  // int8 blocks: only conv1 (before its layernorm) is int16
  for (size_t i = 0; i < small.layers.size(); ++i) CHECK(int16_out(small.layers[i]) == (i == 0));

  // A block model with the given block_activations value (JSON text) and
  // `extra` layers between the block and the pool; "//" keys are comments.
  const auto with = [](const std::string& value, const std::string& extra) {
    const std::string text =
        R"({"name": "b", "input": [1, 4, 4], "classes": 2, "block_activations": )" + value +
        R"(, "//": "a comment", "layers": [{"kind": "basic_block", "out": 2, "//": "a layer comment"}, )" + extra +
        R"({"kind": "global_avgpool"}, {"kind": "linear", "out": 2}]})";
    runs::ConfigErrors errors;
    const ModelSpec spec = runs::parse_model_spec(nlohmann::json::parse(text), "", errors);
    return std::make_pair(spec, errors);
  };
  {
    const auto [spec, errors] = with("\"int16\"", "");
    CHECK(errors.empty());
    CHECK(spec.block_activations == ActivationWidth::int16);
  }
  {
    const auto [spec, errors] = with("\"int8\"", "");
    CHECK(errors.empty());
    CHECK(spec.block_activations == ActivationWidth::int8);
  }
  for (const char* bad : {"\"int4\"", "16", "null"}) {
    CAPTURE(bad);
    const auto [spec, errors] = with(bad, "");
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].pointer == "/block_activations");
    CHECK(errors[0].message.find("\"int8\" or \"int16\"") != std::string::npos);
  }
  {  // an int16 block output read by a relu: refused, naming the reader
    const auto [spec, errors] = with("\"int16\"", "{\"kind\": \"relu\"},");
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].pointer == "/layers/1");
    CHECK(errors[0].message.find("not a relu") != std::string::npos);
    const auto [spec8, errors8] = with("\"int8\"", "{\"kind\": \"relu\"},");
    CHECK(errors8.empty());
  }
}

TEST_CASE("norm_activations: int16 around every LayerNorm, int8 elsewhere, validated with JSON pointers") {
  const Model mlp = load("mlp");  // shipped with int16 (configs/models/mlp.json)
  CHECK(mlp.spec.norm_activations == ActivationWidth::int16);
  // flatten, fc1, relu, LN, fc2, LN: fc1 -> relu -> LN and LN -> fc2 -> LN are int16; the logits' LN is int8.
  const std::vector<bool> mlp_wide{false, true, true, true, true, false};
  for (size_t i = 0; i < mlp.layers.size(); ++i) {
    CAPTURE(i);
    CHECK(int16_out(mlp.layers[i]) == mlp_wide[i]);
  }
  ModelSpec cnn = runs::load_named_model_spec("mnist_cnn", models_dir);  // shipped with int16 too
  CHECK(cnn.norm_activations == ActivationWidth::int16);
  cnn.norm_activations = ActivationWidth::int8;
  for (const auto& l : build_model(cnn).layers) CHECK_FALSE(int16_out(l));
  cnn.norm_activations = ActivationWidth::int16;
  // conv1 relu pool LN conv2 relu pool LN flatten fc1 relu LN fc2 LN: every layer but the logits' LN
  // (each LN's input comes from a GEMM through relu/pool, each output feeds one, through flatten for fc1).
  const Model wide = build_model(cnn);
  for (size_t i = 0; i < wide.layers.size(); ++i) {
    CAPTURE(i);
    CHECK(int16_out(wide.layers[i]) == (i + 1 < wide.layers.size()));
  }

  const auto parse = [](const std::string& value) {
    const std::string text =
        R"({"name": "m", "input": [1, 2, 2], "classes": 2, "norm_activations": )" + value +
        R"(, "layers": [{"kind": "flatten"}, {"kind": "linear", "out": 2}, {"kind": "layernorm"}]})";
    runs::ConfigErrors errors;
    const ModelSpec spec = runs::parse_model_spec(nlohmann::json::parse(text), "", errors);
    return std::make_pair(spec, errors);
  };
  CHECK(parse("\"int16\"").first.norm_activations == ActivationWidth::int16);
  CHECK(parse("\"int8\"").first.norm_activations == ActivationWidth::int8);
  for (const char* bad : {"\"int32\"", "8", "true"}) {
    CAPTURE(bad);
    const auto [spec, errors] = parse(bad);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].pointer == "/norm_activations");
    CHECK(errors[0].message.find("\"int8\" or \"int16\"") != std::string::npos);
  }
}
