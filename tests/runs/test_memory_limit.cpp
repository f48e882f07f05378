// The memory guard rail (memory_limit.hpp): sizes, the estimate, the refusal.
#include "zimt/data/machine_memory.hpp"
#include "zimt/runs/memory_limit.hpp"

#include "zimt/runs/model_spec.hpp"

#include <doctest/doctest.h>

#include <stdexcept>

using namespace zimt;
using namespace zimt::runs;

TEST_CASE("memory sizes parse in binary units and refuse anything else") {
  CHECK(parse_memory_size("1234") == 1234);
  CHECK(parse_memory_size("64K") == 64ull << 10);
  CHECK(parse_memory_size("512M") == 512ull << 20);
  CHECK(parse_memory_size("8G") == 8ull << 30);
  CHECK(parse_memory_size("8GiB") == 8ull << 30);
  CHECK(parse_memory_size("2t") == 2ull << 40);
  for (const char* bad : {"", "G", "-1", "8X", "8Gigs", "1.5G", "lots"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(parse_memory_size(bad), std::invalid_argument);
  }
}

TEST_CASE("the training memory estimate grows with the batch and counts every parameter") {
  const ModelSpec spec = load_model_spec_file(std::filesystem::path(ZIMT_SOURCE_DIR) / "configs/models/mnist_cnn.json");
  const MemoryEstimate one = estimate_training_memory(spec, 1), many = estimate_training_memory(spec, 1000);
  int64_t params = 0;
  Shape3 in = spec.input;
  for (const auto& layer : spec.layers) {
    Shape3 out;
    REQUIRE(layer_output_shape(layer, in, out).empty());
    params += layer_param_count(layer, in);
    in = out;
  }
  CHECK(one.parameters == static_cast<uint64_t>(params) * 16);
  CHECK(many.parameters == one.parameters);
  CHECK(many.activations == 1000 * one.activations);
  // At least the int8 input and every layer's int8 output for each sample.
  CHECK(one.activations > static_cast<uint64_t>(spec.input.numel()));
  // An absurd batch saturates instead of wrapping around.
  CHECK(estimate_training_memory(spec, ~uint64_t{0}).total() == ~uint64_t{0});
}

TEST_CASE("a run over the limit is refused with the estimate; the machine's limit is its memory") {
  const ModelSpec spec = load_model_spec_file(std::filesystem::path(ZIMT_SOURCE_DIR) / "configs/models/mnist_cnn.json");
  const MemoryEstimate e = estimate_training_memory(spec, 1'000'000);
  CHECK_NOTHROW(check_memory(e, 1'000'000, e.total(), false, "run"));
  try {
    check_memory(e, 1'000'000, e.total() - 1, true, "big.json: training mnist_cnn");
    FAIL("not refused");
  } catch (const std::runtime_error& error) {
    const std::string message = error.what();
    CHECK(message.starts_with("big.json: training mnist_cnn needs about "));
    CHECK(message.find("activations for a batch of 1000000: ") != std::string::npos);
    CHECK(message.find("(the machine's); lower /train/batch_size or raise --memory-limit") != std::string::npos);
  }
  const uint64_t machine = data::machine_memory_limit();
  CHECK(machine >= (uint64_t{64} << 20));  // any machine that builds zimt has more than 64 MiB
  CHECK(machine < ~uint64_t{0});
}
