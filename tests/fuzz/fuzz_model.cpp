// libFuzzer harness: model descriptions (configs/models/*.json), read the way
// a run config's "model" file is: load_model_spec_file parses the JSON and
// checks every key, range and layer shape.
#include "fuzz_support.hpp"
#include "zimt/runs/model_spec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = zimt::fuzz::write_scratch("model.json", {reinterpret_cast<const char*>(data), size});
  zimt::fuzz::expect_clean_errors([&] { zimt::runs::load_model_spec_file(path); });
  return 0;
}
