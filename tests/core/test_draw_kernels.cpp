// draw_kernels.hpp on every Philox path this CPU supports against their
// definitions: Lemire's multiply on the exact 128-bit product (words and
// bounds at their extremes, lengths that leave a tail after the vector
// lanes), the values below a bound packed in order, lookup entries at exact and inexact multiples of 2^shift, and
// running sums and maxima across vector boundaries.
#include "zimt/numerics.hpp"
#include "zimt/optim/draw_kernels.hpp"
#include "zimt/rng.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <vector>

using namespace zimt;
using namespace zimt::optim;

namespace {

std::vector<PhiloxPath> supported_paths() {
  std::vector<PhiloxPath> paths;
  for (PhiloxPath p : {PhiloxPath::scalar, PhiloxPath::avx2, PhiloxPath::avx512})
    if (philox_path_supported(p)) paths.push_back(p);
  return paths;
}

}  // namespace

TEST_CASE("multiply_draws_on gives the high half of w·bound and flags low halves below bound") {
  uint64_t draw = 0;
  auto next = [&] { return lo64(philox(11, Stream::test_data, 0, draw++)); };
  const uint64_t max55 = (uint64_t{1} << 55) - 1;
  for (uint64_t bound : {uint64_t{1}, uint64_t{2}, uint64_t{3}, uint64_t{1} << 32, (uint64_t{1} << 32) - 1,
                         (uint64_t{1} << 32) + 1, uint64_t{1} << 54, max55, max55 - 12345, next() >> 9, next() >> 30}) {
    for (size_t size : {size_t{0}, size_t{1}, size_t{7}, size_t{8}, size_t{9}, size_t{128}}) {
      std::vector<uint64_t> w(size);
      for (size_t k = 0; k < size; ++k) {
        w[k] = next();
        if (k % 5 == 1) w[k] = ~uint64_t{0} - k;  // words near 2^64
        if (k % 5 == 2) w[k] = k;                 // and near 0: low halves below bound
      }
      std::vector<uint64_t> expected(size);
      bool expected_rejected = false;
      for (size_t k = 0; k < size; ++k) {
        const u128 m = static_cast<u128>(w[k]) * bound;
        expected[k] = static_cast<uint64_t>(m >> 64);
        expected_rejected |= static_cast<uint64_t>(m) < bound;
      }
      for (PhiloxPath path : supported_paths()) {
        CAPTURE(static_cast<int>(path));
        CAPTURE(bound);
        CAPTURE(size);
        std::vector<uint64_t> draws(size, 7);
        CHECK(multiply_draws_on(path, w.data(), size, bound, draws.data()) == expected_rejected);
        CHECK(draws == expected);
      }
    }
  }
  // The flag on its own: one word whose low half falls below bound, at each lane.
  for (size_t at = 0; at < 11; ++at) {
    std::vector<uint64_t> w(11, ~uint64_t{0}), draws(11);
    w[at] = 0;  // low half 0 < bound
    for (PhiloxPath path : supported_paths()) CHECK(multiply_draws_on(path, w.data(), 11, 5, draws.data()));
  }
}

TEST_CASE("below_on packs the values below bound in order, at every share and length") {
  uint64_t draw = 0;
  auto next = [&] { return lo64(philox(14, Stream::test_data, 0, draw++)); };
  for (uint64_t bound : {uint64_t{0}, uint64_t{1}, uint64_t{1} << 40, ~uint64_t{0}}) {
    for (size_t size : {size_t{0}, size_t{1}, size_t{7}, size_t{8}, size_t{9}, size_t{64}, size_t{128}}) {
      std::vector<uint64_t> v(size);
      for (size_t k = 0; k < size; ++k) {
        v[k] = next() >> (k % 3 == 0 ? 20 : 0);  // some below 2^44, most not
        if (k % 7 == 3) v[k] = bound;            // at the bound (not below)
        if (k % 7 == 5 && bound > 0) v[k] = bound - 1;
      }
      std::vector<uint64_t> expected;
      for (uint64_t x : v)
        if (x < bound) expected.push_back(x);
      for (PhiloxPath path : supported_paths()) {
        CAPTURE(static_cast<int>(path));
        CAPTURE(bound);
        CAPTURE(size);
        std::vector<uint64_t> below(size, 7);
        const size_t count = below_on(path, v.data(), size, bound, below.data());
        REQUIRE(count == expected.size());
        CHECK(std::vector<uint64_t>(below.begin(), below.begin() + static_cast<std::ptrdiff_t>(count)) == expected);
      }
    }
  }
}

TEST_CASE("first_entries_on rounds start / 2^shift up and caps it at the entry count") {
  uint64_t draw = 0;
  auto next = [&] { return lo64(philox(12, Stream::test_data, 0, draw++)); };
  for (int shift : {0, 1, 7, 31, 32, 40, 55}) {
    std::vector<uint64_t> start{0};
    for (int i = 0; i < 40; ++i) {
      const uint64_t step = i % 3 == 0 ? 0 : (next() >> (64 - std::min(62, shift + 3)));
      start.push_back(start.back() + step);
      if (i % 7 == 3) start.back() = (start.back() >> shift) << shift;  // exact multiples
    }
    const auto entries = static_cast<uint32_t>(std::max<uint64_t>(1, (start[start.size() / 2] >> shift)));
    std::vector<uint32_t> expected(start.size());
    for (size_t i = 0; i < start.size(); ++i) {
      const uint64_t whole = start[i] >> shift;
      const uint64_t entry = whole + ((whole << shift) != start[i]);
      expected[i] = static_cast<uint32_t>(std::min<uint64_t>(entry, entries));
    }
    for (PhiloxPath path : supported_paths())
      for (size_t count : {start.size(), size_t{8}, size_t{5}}) {
        CAPTURE(static_cast<int>(path));
        CAPTURE(shift);
        CAPTURE(count);
        std::vector<uint32_t> first(count, 99);
        first_entries_on(path, start.data(), count, shift, entries, first.data());
        CHECK(first == std::vector<uint32_t>(expected.begin(), expected.begin() + static_cast<ptrdiff_t>(count)));
      }
  }
}

TEST_CASE("running_max_on carries the maximum across vector boundaries and tails") {
  uint64_t draw = 0;
  for (size_t count : {size_t{0}, size_t{1}, size_t{15}, size_t{16}, size_t{17}, size_t{33}, size_t{4096}}) {
    std::vector<uint32_t> v(count);
    for (size_t g = 0; g < count; ++g) {
      const uint32_t r = static_cast<uint32_t>(lo64(philox(13, Stream::test_data, 0, draw++)));
      v[g] = g % 9 == 0 ? r : (g % 4 == 0 ? ~uint32_t{0} >> (g % 5) : 0);  // sparse marks, some at the top
    }
    std::vector<uint32_t> expected = v;
    for (size_t g = 1; g < count; ++g) expected[g] = std::max(expected[g], expected[g - 1]);
    for (PhiloxPath path : supported_paths()) {
      CAPTURE(static_cast<int>(path));
      CAPTURE(count);
      std::vector<uint32_t> w = v;
      running_max_on(path, w.data(), count);
      CHECK(w == expected);
    }
  }
}

TEST_CASE("running_sums_on writes 0 and then every running sum, across vector boundaries and tails") {
  uint64_t draw = 0;
  for (size_t count : {size_t{0}, size_t{1}, size_t{7}, size_t{8}, size_t{9}, size_t{23}, size_t{4096}}) {
    std::vector<uint64_t> m(count);
    for (size_t i = 0; i < count; ++i)  // up to 2^50 each: the total fits 64 bits
      m[i] = i % 5 == 0 ? 0 : lo64(philox(14, Stream::test_data, 0, draw++)) >> (14 + i % 40);
    std::vector<uint64_t> expected(count + 1, 0);
    for (size_t i = 0; i < count; ++i) expected[i + 1] = expected[i] + m[i];
    for (PhiloxPath path : supported_paths()) {
      CAPTURE(static_cast<int>(path));
      CAPTURE(count);
      std::vector<uint64_t> cumulative(count + 1, 99);
      running_sums_on(path, m.data(), count, cumulative.data());
      CHECK(cumulative == expected);
    }
  }
}
