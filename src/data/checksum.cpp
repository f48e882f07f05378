#include "zimt/data/checksum.hpp"

#include <zlib.h>

#include <algorithm>

namespace zimt::data {

uint32_t crc32(std::span<const uint8_t> bytes, uint32_t crc) {
  uLong c = crc;
  // zlib takes uInt lengths: feed at most 1 GiB at a time.
  constexpr size_t kChunk = size_t{1} << 30;
  for (size_t at = 0; at < bytes.size(); at += kChunk) {
    const size_t n = std::min(kChunk, bytes.size() - at);
    c = ::crc32(c, bytes.data() + at, static_cast<uInt>(n));
  }
  return static_cast<uint32_t>(c);
}

}  // namespace zimt::data
