#include "zimt/data/dataset.hpp"

#include "zimt/data/byte_size.hpp"
#include "zimt/data/checksum.hpp"
#include "zimt/data/mapped_data_guard.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <utility>

namespace zimt::data {
namespace {

uint32_t get32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

}  // namespace

Dataset Dataset::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error(path + ": cannot open: " + std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw std::runtime_error(path + ": not a regular file");
  }
  const auto size = static_cast<uint64_t>(st.st_size);
  Dataset d;
  d.path_ = path;
  if (size > 0) {
    void* m = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      throw std::runtime_error(path + ": mmap failed: " + std::strerror(err));
    }
    d.base_ = static_cast<const uint8_t*>(m);
    d.mapped_bytes_ = size;
  }
  ::close(fd);
  const std::span<const uint8_t> bytes(d.base_, d.mapped_bytes_);
  d.header_ = zds::decode_header(bytes, path);  // d's destructor unmaps on throw
  const uint64_t expected = d.header_.file_size();
  // Checked before anything is read or allocated by count: a header may claim
  // far more samples than the file holds.
  const zds::Header& h = d.header_;
  const std::string claim = "the header's " + std::to_string(h.count) + " samples of " + std::to_string(h.channels) +
                            "x" + std::to_string(h.height) + "x" + std::to_string(h.width) + " need ";
  if (size < expected)
    throw std::runtime_error(path + ": truncated: " + claim + format_bytes(expected) + ", the file has " +
                             format_bytes(size));
  if (size > expected)
    throw std::runtime_error(path + ": has trailing bytes: " + claim + format_bytes(expected) + ", the file has " +
                             format_bytes(size));
  if (h.count > kMaxSamples)
    throw std::runtime_error(path + ": " + std::to_string(h.count) + " samples, more than the " +
                             std::to_string(kMaxSamples) + " zimt indexes");
  d.payload_crc_ = get32(d.base_ + 56);
  if (crc32(bytes.subspan(zds::kHeaderSize)) != d.payload_crc_) {
    throw std::runtime_error(path + ": payload checksum mismatch (file corrupt)");
  }
  for (uint64_t i = 0; i < d.size(); ++i) {
    if (d.label(i) >= d.classes()) {
      throw std::runtime_error(path + ": sample " + std::to_string(i) + " has label " + std::to_string(d.label(i)) +
                               " >= class count " + std::to_string(d.classes()));
    }
  }
  install_mapped_data_guard();  // a file shrinking under the mapping stops with a message, not "Bus error"
  ::madvise(const_cast<uint8_t*>(d.base_), d.mapped_bytes_, MADV_WILLNEED);
  return d;
}

Dataset::Dataset(Dataset&& o) noexcept
    : path_(std::move(o.path_)),
      header_(o.header_),
      payload_crc_(o.payload_crc_),
      base_(std::exchange(o.base_, nullptr)),
      mapped_bytes_(std::exchange(o.mapped_bytes_, 0)) {}

Dataset& Dataset::operator=(Dataset&& o) noexcept {
  if (this != &o) {
    release();
    path_ = std::move(o.path_);
    header_ = o.header_;
    payload_crc_ = o.payload_crc_;
    base_ = std::exchange(o.base_, nullptr);
    mapped_bytes_ = std::exchange(o.mapped_bytes_, 0);
  }
  return *this;
}

Dataset::~Dataset() { release(); }

void Dataset::release() {
  if (base_ != nullptr) ::munmap(const_cast<uint8_t*>(base_), mapped_bytes_);
  base_ = nullptr;
  mapped_bytes_ = 0;
}

void write_zds(const std::string& path, const Samples& s, uint32_t classes, Overwrite mode) {
  AtomicFile f(path, mode);
  write_zds(f, s, classes);
  f.commit();
}

void write_zds(AtomicFile& f, const Samples& s, uint32_t classes) {
  const std::string& path = f.path();
  auto fail = [&](const std::string& what) { return std::runtime_error(path + ": " + what); };
  if (s.count() == 0) throw fail("no samples to write");
  if (classes < 1 || classes > zds::kMaxClasses)
    throw fail("class count " + std::to_string(classes) + " outside 1..256");
  if (s.images.size() != s.count() * s.shape.size()) throw fail("image bytes do not match count and shape");
  for (uint64_t i = 0; i < s.count(); ++i) {
    if (s.labels[i] >= classes) {
      throw fail("sample " + std::to_string(i) + " has label " + std::to_string(s.labels[i]) + " >= class count " +
                 std::to_string(classes));
    }
  }
  const zds::Header h{s.count(), s.shape.channels, s.shape.height, s.shape.width, classes};
  const std::vector<uint8_t> padding(h.labels_offset() - zds::kHeaderSize - s.images.size(), 0);
  uint32_t crc = crc32(s.images);
  crc = crc32(padding, crc);
  crc = crc32(s.labels, crc);
  f.write(zds::encode_header(h, crc));
  f.write(s.images);
  f.write(padding);
  f.write(s.labels);
}

}  // namespace zimt::data
