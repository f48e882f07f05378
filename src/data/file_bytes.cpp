#include "zimt/data/file_bytes.hpp"

#include "zimt/data/byte_size.hpp"
#include "zimt/data/machine_memory.hpp"

#include <sys/stat.h>
#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>

namespace zimt::data {
namespace {

std::vector<uint8_t> read_raw(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) throw std::runtime_error(path + ": cannot open: " + std::strerror(errno));
  struct stat st;
  std::vector<uint8_t> bytes;
  if (::fstat(::fileno(f.get()), &st) == 0 && S_ISREG(st.st_mode)) bytes.reserve(static_cast<size_t>(st.st_size));
  uint8_t buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f.get())) > 0) bytes.insert(bytes.end(), buf, buf + n);
  if (std::ferror(f.get())) throw std::runtime_error(path + ": read failed: " + std::strerror(errno));
  return bytes;
}

// Inflates every gzip member in `in` (concatenated members are one stream, as
// in gunzip), refusing output beyond `max_bytes`: deflate expands up to about
// 1000:1, so a small file could otherwise ask for more memory than exists.
std::vector<uint8_t> inflate_gzip(const std::vector<uint8_t>& in, const std::string& path, uint64_t max_bytes) {
  std::vector<uint8_t> out;
  z_stream z{};
  if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) throw std::runtime_error(path + ": zlib inflateInit failed");
  z.next_in = const_cast<Bytef*>(in.data());
  z.avail_in = static_cast<uInt>(in.size());  // callers check in.size() < 4 GiB
  uint8_t buf[1 << 16];
  int rc = Z_OK;
  while (true) {
    z.next_out = buf;
    z.avail_out = sizeof buf;
    rc = inflate(&z, Z_NO_FLUSH);
    const size_t produced = sizeof buf - z.avail_out;
    if (produced > max_bytes - out.size()) {
      inflateEnd(&z);
      throw std::runtime_error(path + ": gzip data inflates to more than " + format_bytes(max_bytes) +
                               ", the memory this process may use");
    }
    out.insert(out.end(), buf, buf + produced);
    if (rc == Z_STREAM_END) {
      if (z.avail_in == 0) break;
      if (inflateReset(&z) != Z_OK) break;  // next member
      continue;
    }
    if (rc != Z_OK) break;
  }
  inflateEnd(&z);
  if (rc != Z_STREAM_END) throw std::runtime_error(path + ": corrupt or truncated gzip data");
  return out;
}

}  // namespace

std::vector<uint8_t> read_file_bytes(const std::string& path, uint64_t max_inflated) {
  auto bytes = read_raw(path);
  if (bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b) {
    if (bytes.size() >= (uint64_t{1} << 32))
      throw std::runtime_error(path + ": gzip files of 4 GiB or more are not supported");
    return inflate_gzip(bytes, path, max_inflated);
  }
  return bytes;
}

}  // namespace zimt::data
