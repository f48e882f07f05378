#pragma once
// A .zds dataset (layout in zds.hpp), memory-mapped read-only. open() checks
// the whole file (header, sizes, payload crc32, labels < classes) before use,
// so a Dataset in hand is always valid; pixels are read in place.
#include "zimt/data/atomic_file.hpp"
#include "zimt/data/samples.hpp"
#include "zimt/data/zds.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

namespace zimt::data {

class Dataset {
 public:
  // Samples are indexed with 32 bits (data_order.hpp); a larger count is refused.
  static constexpr uint64_t kMaxSamples = 0xFFFF'FFFF;

  // Throws std::runtime_error("<path>: <what is wrong>").
  static Dataset open(const std::string& path);

  Dataset(Dataset&& other) noexcept;
  Dataset& operator=(Dataset&& other) noexcept;
  Dataset(const Dataset&) = delete;
  Dataset& operator=(const Dataset&) = delete;
  ~Dataset();

  uint64_t size() const { return header_.count; }
  uint32_t channels() const { return header_.channels; }
  uint32_t height() const { return header_.height; }
  uint32_t width() const { return header_.width; }
  Shape shape() const { return {header_.channels, header_.height, header_.width}; }
  uint64_t image_size() const { return header_.image_bytes(); }  // C*H*W
  uint32_t classes() const { return header_.classes; }
  uint32_t payload_crc32() const { return payload_crc_; }
  const std::string& path() const { return path_; }

  const uint8_t* images() const { return base_ + zds::kHeaderSize; }              // (N,C,H,W)
  const uint8_t* labels() const { return base_ + header_.labels_offset(); }       // (N)
  const uint8_t* image(uint64_t i) const { return images() + i * image_size(); }  // (C,H,W)
  uint8_t label(uint64_t i) const { return labels()[i]; }

 private:
  Dataset() = default;
  void release();

  std::string path_;
  zds::Header header_;
  uint32_t payload_crc_ = 0;
  const uint8_t* base_ = nullptr;
  size_t mapped_bytes_ = 0;
};

// Writes `s` as a .zds file atomically (temp + rename). Throws
// std::runtime_error naming `path` if s is empty, classes is outside
// 1..256, a label is >= classes, or the file cannot be written.
void write_zds(const std::string& path, const Samples& s, uint32_t classes, Overwrite mode);
// The same into an open AtomicFile, left for the caller to commit (several
// files committed together, or none).
void write_zds(AtomicFile& f, const Samples& s, uint32_t classes);

}  // namespace zimt::data
