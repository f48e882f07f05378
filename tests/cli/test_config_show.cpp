// `zimt config show`: the resolved config as JSON, and with --model the model
// it builds, each layer with the activation widths the precision policy set.
#include "cli_run.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <string>

using zimt::test::run_zimt;

namespace {

const std::string kConfigs = std::string(ZIMT_SOURCE_DIR) + "/configs/";

bool contains(const std::string& text, const std::string& fragment) { return text.find(fragment) != std::string::npos; }

}  // namespace

TEST_CASE("config show prints the resolved config as JSON, overrides applied") {
  const auto r = run_zimt("config show " + kConfigs + "mnist_cnn_zim.json --set /train/epochs=3");
  REQUIRE(r.exit_code == 0);
  const auto resolved = nlohmann::json::parse(r.output);
  CHECK(resolved.at("train").at("epochs") == 3);
  CHECK(resolved.at("model").at("layers").is_array());
}

TEST_CASE("config show --model prints every layer with its input and output width") {
  const auto r = run_zimt("config show " + kConfigs + "mnist_cnn_zim.json --model");
  REQUIRE(r.exit_code == 0);
  CHECK(contains(r.output, "model mnist_cnn: input 1x28x28, 10 classes"));
  CHECK(contains(r.output, "kind            in    out"));
  // The first convolution reads the int8 image; the loss layer's input is
  // the last linear layer's output.
  CHECK(contains(r.output, "conv2d          int8"));
  CHECK(contains(r.output, "total parameters: "));

  // The int16 policy of a model description shows in the table.
  const auto wide = run_zimt("config show " + kConfigs + "resnet18_zim.json --model");
  REQUIRE(wide.exit_code == 0);
  CHECK(contains(wide.output, "basic_block"));
  CHECK(contains(wide.output, "int16"));
}

TEST_CASE("config show --model reports config errors with their pointers") {
  const auto r = run_zimt("config show " + kConfigs + "mnist_cnn_zim.json --model --set /train/batch_size=0");
  CHECK(r.exit_code == 2);
  CHECK(contains(r.output, "/train/batch_size: must be >= 1, got 0"));
}
