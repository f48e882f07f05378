#pragma once
// MNIST-style IDX files (http://yann.lecun.com/exdb/mnist/): a big-endian
// magic 0x0000 08 NN (08 = u8 elements, NN = number of dimensions), NN
// big-endian u32 dimensions, then the elements. Raw or gzip.
#include "zimt/data/samples.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace zimt::data::idx {

inline constexpr uint32_t kImagesMagic = 0x00000803;  // u8, 3 dims (N,H,W)
inline constexpr uint32_t kLabelsMagic = 0x00000801;  // u8, 1 dim (N)

struct Images {
  uint64_t count = 0;
  uint32_t height = 0;
  uint32_t width = 0;
  std::vector<uint8_t> pixels;  // (N,H,W)
};

// Parse already-read file bytes; `path` names the file in errors.
Images parse_images(const std::vector<uint8_t>& bytes, const std::string& path);
std::vector<uint8_t> parse_labels(const std::vector<uint8_t>& bytes, const std::string& path);

// Reads an images file and a labels file into samples of shape (1,H,W).
// Errors: wrong magic, truncated or oversized data, count mismatch.
Samples read(const std::string& images_path, const std::string& labels_path);

// The magic of IDX bytes, or 0 if there are fewer than 4 bytes.
uint32_t magic_of(const std::vector<uint8_t>& bytes);

}  // namespace zimt::data::idx
