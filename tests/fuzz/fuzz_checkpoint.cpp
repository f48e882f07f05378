// libFuzzer harness: the checkpoint decoder (decode_checkpoint, what
// `zimt train --resume`, `zimt eval` and `zimt inspect` run on a .zck file).
// The first input byte is a mode: when its low bit is set, the harness writes
// the correct payload size and CRC-32 into the header of the rest, so
// mutations reach the field checks behind them; otherwise the bytes are
// decoded as they are.
#include "fuzz_support.hpp"
#include "zimt/data/checksum.hpp"
#include "zimt/runs/checkpoint.hpp"

#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  constexpr size_t kHeader = 24;  // magic, version, crc32, payload size
  std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  if ((data[0] & 1) != 0 && bytes.size() >= kHeader) {
    const uint64_t payload = bytes.size() - kHeader;
    const uint32_t crc = zimt::data::crc32({reinterpret_cast<const uint8_t*>(bytes.data()) + kHeader, payload});
    for (int i = 0; i < 4; ++i) bytes[12 + i] = static_cast<char>(crc >> (8 * i) & 0xff);
    for (int i = 0; i < 8; ++i) bytes[16 + i] = static_cast<char>(payload >> (8 * i) & 0xff);
  }
  zimt::fuzz::expect_clean_errors([&] { zimt::runs::decode_checkpoint(bytes, "fuzz.zck"); });
  return 0;
}
