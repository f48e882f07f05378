// kernels::byte_lookup (the input normalisation's spread of requantised
// pixel values) against its one-by-one version and its definition: every
// length up to three vectors and a tail, indices on both halves of the table.
#include "zimt/kernels/byte_lookup.hpp"
#include "zimt/rng.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <vector>

using namespace zimt;

TEST_CASE("byte_lookup gives table[index[i]] for every length, as its portable version") {
  std::array<int8_t, 256> table{};
  for (size_t v = 0; v < table.size(); ++v) table[v] = static_cast<int8_t>(philox(5, Stream::test_data, 0, v)[0]);
  for (int64_t count = 0; count <= 200; ++count) {
    CAPTURE(count);
    std::vector<uint8_t> index(static_cast<size_t>(count));
    for (size_t i = 0; i < index.size(); ++i) {
      index[i] = static_cast<uint8_t>(philox(6, Stream::test_data, static_cast<uint64_t>(count), i)[0]);
      if (i % 5 == 0) index[i] = static_cast<uint8_t>(127 + i % 3);  // 127, 128, 129: across the halves
    }
    std::vector<int8_t> want(index.size()), got(index.size() + 1, 99), portable(index.size() + 1, 99);
    for (size_t i = 0; i < index.size(); ++i) want[i] = table[index[i]];
    kernels::byte_lookup(got.data(), index.data(), count, table.data());
    kernels::byte_lookup_portable(portable.data(), index.data(), count, table.data());
    CHECK(std::equal(want.begin(), want.end(), got.begin()));
    CHECK(std::equal(want.begin(), want.end(), portable.begin()));
    CHECK(got.back() == 99);  // nothing written past count
  }
}
