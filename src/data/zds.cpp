#include "zimt/data/zds.hpp"

#include "zimt/data/checksum.hpp"

#include <cstring>
#include <stdexcept>

namespace zimt::data::zds {
namespace {

void put32(std::string& s, size_t at, uint32_t v) {
  for (int b = 0; b < 4; ++b) s[at + b] = static_cast<char>(v >> (8 * b));
}
void put64(std::string& s, size_t at, uint64_t v) {
  for (int b = 0; b < 8; ++b) s[at + b] = static_cast<char>(v >> (8 * b));
}
uint32_t get32(std::span<const uint8_t> s, size_t at) {
  uint32_t v = 0;
  for (int b = 0; b < 4; ++b) v |= uint32_t{s[at + b]} << (8 * b);
  return v;
}
uint64_t get64(std::span<const uint8_t> s, size_t at) {
  uint64_t v = 0;
  for (int b = 0; b < 8; ++b) v |= uint64_t{s[at + b]} << (8 * b);
  return v;
}

}  // namespace

std::string encode_header(const Header& h, uint32_t payload_crc) {
  std::string s(kHeaderSize, '\0');
  std::memcpy(s.data(), kMagic, sizeof kMagic);
  put32(s, 8, kVersion);
  put32(s, 12, kHeaderSize);
  put64(s, 16, h.count);
  put32(s, 24, h.channels);
  put32(s, 28, h.height);
  put32(s, 32, h.width);
  put32(s, 36, kElementU8);
  put32(s, 40, h.classes);
  put32(s, 44, kLabelU8);
  put64(s, 48, h.labels_offset());
  put32(s, 56, payload_crc);
  put32(s, 60, crc32({reinterpret_cast<const uint8_t*>(s.data()), 60}));
  return s;
}

Header decode_header(std::span<const uint8_t> b, const std::string& path) {
  auto fail = [&](const std::string& what) { return std::runtime_error(path + ": " + what); };
  if (b.size() < kHeaderSize) {
    throw fail("truncated: " + std::to_string(b.size()) + " bytes, a .zds header alone is 64");
  }
  if (std::memcmp(b.data(), kMagic, sizeof kMagic) != 0) throw fail("not a .zds file (wrong magic)");
  if (crc32(b.first(60)) != get32(b, 60)) throw fail("header checksum mismatch (corrupt header)");
  const uint32_t version = get32(b, 8);
  if (version != kVersion) {
    throw fail("unsupported .zds version " + std::to_string(version) + " (this zimt reads version " +
               std::to_string(kVersion) + ")");
  }
  if (get32(b, 12) != kHeaderSize) throw fail("header size " + std::to_string(get32(b, 12)) + ", expected 64");
  if (get32(b, 36) != kElementU8) throw fail("unsupported element type " + std::to_string(get32(b, 36)));
  if (get32(b, 44) != kLabelU8) throw fail("unsupported label type " + std::to_string(get32(b, 44)));
  Header h;
  h.count = get64(b, 16);
  h.channels = get32(b, 24);
  h.height = get32(b, 28);
  h.width = get32(b, 32);
  h.classes = get32(b, 40);
  if (h.count == 0) throw fail("holds no samples");
  for (uint32_t d : {h.channels, h.height, h.width}) {
    if (d < 1 || d > 65535) throw fail("image dimension " + std::to_string(d) + " outside 1..65535");
  }
  if (h.classes < 1 || h.classes > kMaxClasses)
    throw fail("class count " + std::to_string(h.classes) + " outside 1..256");
  if (h.count > (uint64_t{1} << 62) / h.image_bytes())
    throw fail("sample count " + std::to_string(h.count) + " too large");
  if (get64(b, 48) != h.labels_offset()) throw fail("labels offset inconsistent with count and shape");
  return h;
}

}  // namespace zimt::data::zds
