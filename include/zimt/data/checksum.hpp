#pragma once
// CRC-32 (zlib's polynomial, as in gzip, PNG and Python's zlib.crc32).
#include <cstdint>
#include <span>

namespace zimt::data {

// crc32 of `bytes`, continuing from `crc` (0 to start a new checksum).
uint32_t crc32(std::span<const uint8_t> bytes, uint32_t crc = 0);

}  // namespace zimt::data
