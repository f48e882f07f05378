#pragma once
// Whole-file reads for the dataset parsers: gzip input (magic 1f 8b) is
// inflated through zlib, anything else is read as is. Errors name the file.
#include "zimt/data/machine_memory.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace zimt::data {

// The file's bytes, inflated if it is gzip. Throws std::runtime_error
// "<path>: cannot open: <reason>", "<path>: corrupt or truncated gzip data"
// or, for gzip data inflating past `max_inflated` bytes (by default the
// machine's memory), "<path>: gzip data inflates to more than <size>, ...".
std::vector<uint8_t> read_file_bytes(const std::string& path, uint64_t max_inflated = machine_memory_limit());

}  // namespace zimt::data
