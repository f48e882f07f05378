// libFuzzer harness: the CSV reader of `zimt convert`. The first line of the
// input is the --shape text ("C,H,W", parsed by parse_shape as the CLI
// does); the rest is the CSV file.
#include "fuzz_support.hpp"
#include "zimt/data/csv.hpp"

#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t eol = input.find('\n');
  if (eol == std::string_view::npos) return 0;
  const std::string shape_text(input.substr(0, eol));
  const auto path = zimt::fuzz::write_scratch("input.csv", input.substr(eol + 1));
  zimt::fuzz::expect_clean_errors(
      [&] { zimt::data::csv::read(path.string(), zimt::data::parse_shape(shape_text, "--shape")); });
  return 0;
}
