// libFuzzer harness: the CIFAR-10 reader of `zimt convert`, and the format
// detection `zimt convert` runs first on an input of unknown format. The
// input, split at NULs into at most three parts, is up to three batch files
// read in order.
#include "fuzz_support.hpp"
#include "zimt/data/cifar.hpp"
#include "zimt/data/convert.hpp"

#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto whole = zimt::fuzz::write_scratch("whole.bin", {reinterpret_cast<const char*>(data), size});
  zimt::fuzz::expect_clean_errors([&] { zimt::data::detect_format(whole.string()); });
  std::vector<std::string> paths;
  const auto parts = zimt::fuzz::split_parts(data, size, 3);
  for (size_t i = 0; i < parts.size(); ++i)
    paths.push_back(zimt::fuzz::write_scratch("batch_" + std::to_string(i) + ".bin", parts[i]).string());
  zimt::fuzz::expect_clean_errors([&] { zimt::data::cifar::read(paths); });
  return 0;
}
