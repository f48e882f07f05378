#pragma once
// Byte counts for messages: "2384 bytes", "1.5 MiB", "145.0 TiB".
#include <cstdint>
#include <string>

namespace zimt::data {

// Below 10 KiB the exact count in bytes; above, one decimal in the largest
// binary unit (KiB .. EiB) that keeps the number at 1 or more.
std::string format_bytes(uint64_t bytes);

}  // namespace zimt::data
