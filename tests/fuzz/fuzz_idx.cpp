// libFuzzer harness: the IDX reader of `zimt convert` (idx::read on an
// images file and a labels file, raw or gzip). Bytes before the first
// "\0IDXSPLIT\0" marker are the images file, the rest the labels file;
// without the marker both files get the whole input.
#include "fuzz_support.hpp"
#include "zimt/data/idx.hpp"

#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr std::string_view kSplit("\0IDXSPLIT\0", 10);
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t at = input.find(kSplit);
  const std::string_view images = at == std::string_view::npos ? input : input.substr(0, at);
  const std::string_view labels = at == std::string_view::npos ? input : input.substr(at + kSplit.size());
  const auto images_path = zimt::fuzz::write_scratch("images.idx", images);
  const auto labels_path = zimt::fuzz::write_scratch("labels.idx", labels);
  zimt::fuzz::expect_clean_errors([&] { zimt::data::idx::read(images_path.string(), labels_path.string()); });
  return 0;
}
