#pragma once
// The .zds dataset format: zimt's one on-disk dataset layout, made for mmap.
//
// All integers are little-endian. A file is a 64-byte header, then the images,
// then the labels; nothing else.
//
//   offset size  field
//   0      8     magic           "ZIMTDS\0\0"  (5A 49 4D 54 44 53 00 00)
//   8      4     version         u32 = 1
//   12     4     header_size     u32 = 64
//   16     8     count           u64 number of samples N >= 1
//   24     4     channels        u32 C >= 1
//   28     4     height          u32 H >= 1
//   32     4     width           u32 W >= 1
//   36     4     element_type    u32 = 1: pixels are u8 (0..255)
//   40     4     classes         u32 K, 1 <= K <= 256; every label is < K
//   44     4     label_type      u32 = 1: labels are u8
//   48     8     labels_offset   u64 = align_up(64 + N*C*H*W, 64)
//   56     4     payload_crc32   u32 zlib crc32 of bytes [64, file end)
//   60     4     header_crc32    u32 zlib crc32 of header bytes [0, 60)
//
//   64                 images: N*C*H*W bytes; sample i's image is the C*H*W bytes
//                      at 64 + i*C*H*W, channel-major then row-major, i.e. the
//                      whole block is a u8 array of shape (N,C,H,W).
//   64 + N*C*H*W       zero padding up to labels_offset (0..63 bytes)
//   labels_offset      labels: N bytes, label of sample i at labels_offset + i.
//   file size          exactly labels_offset + N.
//
// Both the image block and the label block start 64-byte aligned, so a
// mapped file can be read in place. Readers check, in this order: file at
// least 64 bytes, magic, header_crc32, version, header_size, element and label
// type, shape and classes in range, labels_offset and file size consistent
// with N*C*H*W, payload_crc32, every label < classes.
// Python: struct.unpack("<8sIIQIIIIIIQII", f.read(64)) and zlib.crc32.
#include <cstdint>
#include <span>
#include <string>

namespace zimt::data::zds {

inline constexpr char kMagic[8] = {'Z', 'I', 'M', 'T', 'D', 'S', '\0', '\0'};
inline constexpr uint32_t kVersion = 1;
inline constexpr uint32_t kHeaderSize = 64;
inline constexpr uint32_t kElementU8 = 1;
inline constexpr uint32_t kLabelU8 = 1;
inline constexpr uint32_t kMaxClasses = 256;
inline constexpr uint64_t kAlign = 64;

inline constexpr uint64_t align_up(uint64_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

// The header's fields as numbers (the checksums are computed, not stored here).
struct Header {
  uint64_t count = 0;
  uint32_t channels = 0;
  uint32_t height = 0;
  uint32_t width = 0;
  uint32_t classes = 0;

  uint64_t image_bytes() const { return uint64_t{channels} * height * width; }  // one sample
  uint64_t labels_offset() const { return align_up(kHeaderSize + count * image_bytes()); }
  uint64_t file_size() const { return labels_offset() + count; }
};

// The 64 header bytes for `h` and a payload whose crc32 is `payload_crc`.
std::string encode_header(const Header& h, uint32_t payload_crc);

// Parses and checks the first 64 bytes of a file (magic, header crc, version,
// types, ranges). Throws std::runtime_error("<path>: <what is wrong>").
Header decode_header(std::span<const uint8_t> bytes, const std::string& path);

}  // namespace zimt::data::zds
