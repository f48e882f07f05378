// The model factory: layer list, parameter names and counts (ZIM.md §4),
// shapes, describe(), and rejection of impossible descriptions.
#include "layer_spec.hpp"
#include "zimt/model.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <stdexcept>

#include "zimt/io/model_spec.hpp"

using namespace zimt;

using zimt::test::layer;

namespace {
const std::filesystem::path models_dir = std::filesystem::path(ZIMT_SOURCE_DIR) / "configs" / "models";
Model load(const char* name) { return build_model(io::load_named_model_spec(name, models_dir)); }
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
