#include "zimt/data/idx.hpp"

#include "zimt/data/file_bytes.hpp"

#include <cstdio>
#include <stdexcept>

namespace zimt::data::idx {
namespace {

uint32_t be32(const std::vector<uint8_t>& b, size_t at) {
  return uint32_t{b[at]} << 24 | uint32_t{b[at + 1]} << 16 | uint32_t{b[at + 2]} << 8 | uint32_t{b[at + 3]};
}

std::string hex(uint32_t v) {
  char s[11];
  std::snprintf(s, sizeof s, "0x%08x", v);
  return s;
}

// Checks magic and size; returns the dimensions.
std::vector<uint32_t> parse_dims(const std::vector<uint8_t>& b, const std::string& path, uint32_t magic,
                                 const char* what) {
  if (b.empty()) throw std::runtime_error(path + ": empty file");
  if (b.size() < 4 || be32(b, 0) != magic) {
    throw std::runtime_error(path + ": wrong magic " +
                             (b.size() < 4 ? std::string("(file too short)") : hex(be32(b, 0))) + ", expected " +
                             hex(magic) + " (IDX " + what + ")");
  }
  const size_t ndims = magic & 0xff;
  const size_t header = 4 + 4 * ndims;
  if (b.size() < header) throw std::runtime_error(path + ": truncated IDX header");
  std::vector<uint32_t> dims(ndims);
  uint64_t elements = 1;
  for (size_t d = 0; d < ndims; ++d) {
    dims[d] = be32(b, 4 + 4 * d);
    elements *= dims[d];
  }
  if (elements == 0) throw std::runtime_error(path + ": holds no samples");
  const uint64_t have = b.size() - header;
  if (have != elements) {
    throw std::runtime_error(path + ": " + (have < elements ? "truncated" : "has trailing bytes") + ": " +
                             std::to_string(have) + " data bytes, dimensions say " + std::to_string(elements));
  }
  return dims;
}

}  // namespace

uint32_t magic_of(const std::vector<uint8_t>& bytes) { return bytes.size() < 4 ? 0 : be32(bytes, 0); }

Images parse_images(const std::vector<uint8_t>& bytes, const std::string& path) {
  const auto dims = parse_dims(bytes, path, kImagesMagic, "u8 images");
  if (dims[1] > 65535 || dims[2] > 65535) throw std::runtime_error(path + ": image dimensions over 65535");
  Images im;
  im.count = dims[0];
  im.height = dims[1];
  im.width = dims[2];
  im.pixels.assign(bytes.begin() + 16, bytes.end());
  return im;
}

std::vector<uint8_t> parse_labels(const std::vector<uint8_t>& bytes, const std::string& path) {
  parse_dims(bytes, path, kLabelsMagic, "u8 labels");
  return {bytes.begin() + 8, bytes.end()};
}

Samples read(const std::string& images_path, const std::string& labels_path) {
  Images im = parse_images(read_file_bytes(images_path), images_path);
  std::vector<uint8_t> labels = parse_labels(read_file_bytes(labels_path), labels_path);
  if (labels.size() != im.count) {
    throw std::runtime_error(labels_path + ": " + std::to_string(labels.size()) + " labels but " + images_path +
                             " has " + std::to_string(im.count) + " images");
  }
  Samples s;
  s.shape = {1, im.height, im.width};
  s.images = std::move(im.pixels);
  s.labels = std::move(labels);
  return s;
}

}  // namespace zimt::data::idx
