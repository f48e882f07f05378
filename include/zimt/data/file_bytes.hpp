#pragma once
// Whole-file reads for the dataset parsers: gzip input (magic 1f 8b) is
// inflated through zlib, anything else is read as is. Errors name the file.
#include <cstdint>
#include <string>
#include <vector>

namespace zimt::data {

// The file's bytes, inflated if it is gzip. Throws std::runtime_error
// "<path>: cannot open: <reason>" or "<path>: corrupt or truncated gzip data".
std::vector<uint8_t> read_file_bytes(const std::string& path);

}  // namespace zimt::data
