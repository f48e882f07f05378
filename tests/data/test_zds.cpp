// The .zds format: writer -> reader round trip, header layout, and every way
// a damaged file is rejected; atomic writes leave nothing behind on failure.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>

#include "dataset_fixtures.hpp"
#include "zimt/data/atomic_file.hpp"
#include "zimt/data/checksum.hpp"
#include "zimt/data/dataset.hpp"

using namespace zimt::data;
using zimt::test::read_bytes;
using zimt::test::TempDir;
using zimt::test::write_bytes;

namespace {

// 5 samples of shape (2,3,4), pixel j of sample i = 11i + j, label i mod 3.
Samples small_samples() {
  Samples s;
  s.shape = {2, 3, 4};
  for (uint32_t i = 0; i < 5; ++i) {
    s.labels.push_back(static_cast<uint8_t>(i % 3));
    for (uint32_t j = 0; j < 24; ++j) s.images.push_back(static_cast<uint8_t>(11 * i + j));
  }
  return s;
}

std::string open_error(const std::string& path) {
  try {
    Dataset::open(path);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("zds: written samples read back byte for byte") {
  TempDir dir;
  const auto s = small_samples();
  write_zds(dir / "a.zds", s, 3, Overwrite::refuse);
  const auto d = Dataset::open(dir / "a.zds");
  CHECK(d.size() == 5);
  CHECK(d.shape() == Shape{2, 3, 4});
  CHECK(d.image_size() == 24);
  CHECK(d.classes() == 3);
  CHECK(std::memcmp(d.images(), s.images.data(), s.images.size()) == 0);
  CHECK(std::memcmp(d.labels(), s.labels.data(), s.labels.size()) == 0);
  CHECK(d.image(4)[0] == 44);
  CHECK(d.label(4) == 1);
  // Both blocks are 64-byte aligned within the file; mmap is page aligned.
  CHECK(reinterpret_cast<uintptr_t>(d.images()) % 64 == 0);
  CHECK(reinterpret_cast<uintptr_t>(d.labels()) % 64 == 0);
  CHECK(dir.files() == std::vector<std::string>{"a.zds"});  // no temporary left
}

TEST_CASE("zds: header fields sit where zds.hpp documents them") {
  TempDir dir;
  const auto s = small_samples();
  write_zds(dir / "a.zds", s, 3, Overwrite::refuse);
  const auto b = read_bytes(dir / "a.zds");
  auto u32 = [&](size_t at) {
    return uint32_t{b[at]} | uint32_t{b[at + 1]} << 8 | uint32_t{b[at + 2]} << 16 | uint32_t{b[at + 3]} << 24;
  };
  auto u64 = [&](size_t at) { return uint64_t{u32(at)} | uint64_t{u32(at + 4)} << 32; };
  CHECK(std::memcmp(b.data(), "ZIMTDS\0\0", 8) == 0);
  CHECK(u32(8) == 1);
  CHECK(u32(12) == 64);
  CHECK(u64(16) == 5);
  CHECK(u32(24) == 2);
  CHECK(u32(28) == 3);
  CHECK(u32(32) == 4);
  CHECK(u32(36) == 1);
  CHECK(u32(40) == 3);
  CHECK(u32(44) == 1);
  CHECK(u64(48) == 192);  // align_up(64 + 120, 64)
  CHECK(b.size() == 192 + 5);
  CHECK(u32(56) == crc32(std::span(b).subspan(64)));
  CHECK(u32(60) == crc32(std::span(b).first(60)));
  CHECK(std::all_of(b.begin() + 64 + 120, b.begin() + 192, [](uint8_t v) { return v == 0; }));
}

TEST_CASE("zds: damaged files are rejected naming the file and the problem") {
  TempDir dir;
  const std::string path = dir / "a.zds";
  write_zds(path, small_samples(), 3, Overwrite::refuse);
  const auto good = read_bytes(path);

  SUBCASE("corrupt payload -> checksum error") {
    auto b = good;
    b[100] ^= 1;
    write_bytes(path, b);
    CHECK(open_error(path) == path + ": payload checksum mismatch (file corrupt)");
  }
  SUBCASE("truncated payload") {
    write_bytes(path, {good.begin(), good.end() - 1});
    CHECK(open_error(path) ==
          path + ": truncated: the header's 5 samples of 2x3x4 need 197 bytes, the file has 196 bytes");
  }
  SUBCASE("trailing bytes") {
    auto b = good;
    b.push_back(0);
    write_bytes(path, b);
    CHECK(open_error(path) ==
          path + ": has trailing bytes: the header's 5 samples of 2x3x4 need 197 bytes, the file has 198 bytes");
  }
  SUBCASE("truncated header") {
    write_bytes(path, {good.begin(), good.begin() + 30});
    CHECK(open_error(path) == path + ": truncated: 30 bytes, a .zds header alone is 64");
  }
  SUBCASE("empty file") {
    write_bytes(path, {});
    CHECK(open_error(path) == path + ": truncated: 0 bytes, a .zds header alone is 64");
  }
  SUBCASE("wrong magic") {
    auto b = good;
    b[0] = 'X';
    write_bytes(path, b);
    CHECK(open_error(path) == path + ": not a .zds file (wrong magic)");
  }
  SUBCASE("corrupt header -> header checksum error") {
    auto b = good;
    b[16] = 6;  // count 5 -> 6
    write_bytes(path, b);
    CHECK(open_error(path) == path + ": header checksum mismatch (corrupt header)");
  }
  SUBCASE("missing file") {
    CHECK(open_error(dir / "none.zds") == dir / "none.zds" + ": cannot open: No such file or directory");
  }
}

TEST_CASE("zds: the writer refuses bad samples and leaves no file") {
  TempDir dir;
  auto s = small_samples();
  auto error = [&](const Samples& x, uint32_t classes) {
    try {
      write_zds(dir / "a.zds", x, classes, Overwrite::refuse);
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  CHECK(error(s, 2) == dir / "a.zds" + ": sample 2 has label 2 >= class count 2");
  CHECK(error(s, 0) == dir / "a.zds" + ": class count 0 outside 1..256");
  CHECK(error(s, 257) == dir / "a.zds" + ": class count 257 outside 1..256");
  CHECK(error(Samples{{1, 2, 2}, {}, {}}, 3) == dir / "a.zds" + ": no samples to write");
  CHECK(dir.files().empty());
}

TEST_CASE("atomic_file: refuses to overwrite unless told, replaces whole, cleans up on failure") {
  TempDir dir;
  const std::string path = dir / "f.txt";
  write_file_atomic(path, "one", Overwrite::refuse);
  CHECK_THROWS_WITH_AS(write_file_atomic(path, "two", Overwrite::refuse),
                       (path + ": already exists (pass --force to overwrite)").c_str(), std::runtime_error);
  CHECK(read_bytes(path) == std::vector<uint8_t>{'o', 'n', 'e'});
  write_file_atomic(path, "three", Overwrite::replace);
  CHECK(read_bytes(path).size() == 5);
  {
    AtomicFile f(dir / "g.txt", Overwrite::refuse);
    f.write(std::string_view("partial"));
    // destroyed without commit: an interrupted write
  }
  CHECK(dir.files() == std::vector<std::string>{"f.txt"});
  CHECK_THROWS_WITH_AS(write_file_atomic(dir / "no/such/dir/x", "", Overwrite::replace),
                       doctest::Contains("cannot create a temporary file beside it"), std::runtime_error);
}
