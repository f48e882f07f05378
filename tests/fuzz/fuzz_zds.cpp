// libFuzzer harness: the .zds reader (Dataset::open, which maps the file and
// checks header, sizes, payload crc32 and labels). The first input byte is a
// mode: when its low bit is set, the harness writes correct header and
// payload checksums into the rest before opening it, so mutations reach the
// checks behind the crc32s; otherwise the bytes are opened as they are.
#include "fuzz_support.hpp"
#include "zimt/data/checksum.hpp"
#include "zimt/data/dataset.hpp"

#include <cstring>
#include <string>

namespace {

void put32(std::string& b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + i] = static_cast<char>(v >> (8 * i) & 0xff);
}

uint32_t crc_of(const std::string& b, size_t from, size_t to) {
  return zimt::data::crc32({reinterpret_cast<const uint8_t*>(b.data()) + from, to - from});
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  if ((data[0] & 1) != 0 && bytes.size() >= zimt::data::zds::kHeaderSize) {
    put32(bytes, 56, crc_of(bytes, zimt::data::zds::kHeaderSize, bytes.size()));
    put32(bytes, 60, crc_of(bytes, 0, 60));
  }
  const auto path = zimt::fuzz::write_scratch("input.zds", bytes);
  zimt::fuzz::expect_clean_errors([&] {
    const auto d = zimt::data::Dataset::open(path.string());
    // Touch every byte the accessors promise, as a training epoch would.
    uint64_t sum = 0;
    for (uint64_t i = 0; i < d.size(); ++i) sum += d.label(i) + d.image(i)[d.image_size() - 1];
    if (sum == UINT64_MAX) std::abort();  // keeps the reads
  });
  return 0;
}
