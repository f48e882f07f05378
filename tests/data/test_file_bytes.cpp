// zimt::data::read_file_bytes: raw files as they are, gzip inflated (several
// members as one stream), and gzip data that would inflate past the memory
// limit refused with a message instead of an allocation.
#include <doctest/doctest.h>

#include "dataset_fixtures.hpp"
#include "zimt/data/file_bytes.hpp"

using zimt::data::read_file_bytes;
using zimt::test::gzip;
using zimt::test::TempDir;
using zimt::test::write_bytes;

TEST_CASE("read_file_bytes: raw as is, gzip inflated, concatenated members joined") {
  TempDir dir;
  std::vector<uint8_t> raw(100000);
  for (size_t i = 0; i < raw.size(); ++i) raw[i] = static_cast<uint8_t>(i * 7 + i / 251);
  const std::string plain = dir / "plain", packed = dir / "packed.gz", two = dir / "two.gz";
  write_bytes(plain, raw);
  write_bytes(packed, gzip(raw));
  std::vector<uint8_t> both = gzip(raw);
  const std::vector<uint8_t> second = gzip({1, 2, 3});
  both.insert(both.end(), second.begin(), second.end());
  write_bytes(two, both);
  CHECK(read_file_bytes(plain) == raw);
  CHECK(read_file_bytes(packed) == raw);
  std::vector<uint8_t> joined = raw;
  joined.insert(joined.end(), {1, 2, 3});
  CHECK(read_file_bytes(two) == joined);
}

TEST_CASE("read_file_bytes: gzip data inflating past the limit is refused") {
  TempDir dir;
  const std::string bomb = dir / "bomb.gz";
  write_bytes(bomb, gzip(std::vector<uint8_t>(4 << 20)));  // 4 MiB of zeros: a few KiB packed
  CHECK(read_file_bytes(bomb, 4 << 20).size() == (4u << 20));
  try {
    read_file_bytes(bomb, 1 << 20);
    FAIL("not refused");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()) == bomb + ": gzip data inflates to more than 1.0 MiB, the memory this process may use");
  }
}
