// scale_by_factor_on (scale_by_factor.hpp) on every path this CPU supports
// against the exact rounding of the 128-bit product, for gradients of every
// bit length (INT64_MIN included), factors and shifts whose results fill up
// to 64 bits (shifts below, at and above 64), and lengths that leave a tail
// after the vector lanes.
#include "zimt/numerics.hpp"
#include "zimt/optim/scale_by_factor.hpp"
#include "zimt/rng.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <vector>

using namespace zimt;
using namespace zimt::optim;

namespace {

// round-half-even(|g| k / 2^right) from the exact 128-bit product, read
// plainly: quotient, remainder and half compared.
uint64_t exact_rounding(int64_t g, uint64_t k, int right) {
  const u128 m = static_cast<u128>(abs_u64(g)) * k;
  const u128 q = m >> right, rem = m - (q << right), h = static_cast<u128>(1) << (right - 1);
  return static_cast<uint64_t>(q + ((rem > h || (rem == h && (q & 1))) ? 1 : 0));
}

}  // namespace

TEST_CASE("scale_by_factor_on rounds |g| k / 2^right half to even on every path") {
  size_t nonzero = 0;  // results above 0 (|g| k reaches 2^(right - 1)), so the check sees real values
  uint64_t draw = 0;
  auto next = [&] { return lo64(philox(9, Stream::test_data, 0, draw++)); };
  for (int right = 1; right < 128; ++right) {
    for (int k_bits : {1, 17, 32, 33, 50, 63}) {
      const uint64_t k = (next() >> (64 - k_bits)) | (uint64_t{1} << (k_bits - 1));
      // |g| below 2^(64 + right - k_bits) keeps every result within 64 bits.
      const int g_bits = std::max(1, std::min(63, 63 + right - k_bits));
      std::vector<int64_t> g{0, 1, -1, 2, -3};
      if (g_bits == 63) {
        g.push_back(std::numeric_limits<int64_t>::max());
        g.push_back(std::numeric_limits<int64_t>::min());
      }
      for (int i = 0; i < 40; ++i) {
        const int drop = 64 - g_bits + (i % 7);  // 64 and more: a = 0
        const auto a = static_cast<int64_t>(drop < 64 ? next() >> drop : 0);
        g.push_back(i % 2 ? a : -a);
      }
      // Ties: |g| k = (2 q + 1) 2^(right - 1) exactly, for k = 1.
      if (k_bits == 1 && right <= g_bits)
        for (uint64_t q : {0ull, 1ull, 2ull, 7ull}) g.push_back(static_cast<int64_t>((2 * q + 1) << (right - 1)));
      std::vector<uint64_t> expected(g.size());
      for (size_t i = 0; i < g.size(); ++i) {
        expected[i] = exact_rounding(g[i], k, right);
        nonzero += expected[i] != 0;
      }
      for (ScalePath path : {ScalePath::scalar, ScalePath::avx512}) {
        if (!scale_path_supported(path)) continue;
        for (size_t size : {g.size(), g.size() - 3, size_t{7}}) {
          std::vector<int8_t> sign(size, 5);
          std::vector<uint64_t> mag(size, 7);
          const ScaledSum scaled = scale_by_factor_on(path, g.data(), sign.data(), mag.data(), size, k, right);
          uint64_t want_sum = 0, want_or = 0;
          for (size_t i = 0; i < size; ++i) {
            CHECK_MESSAGE(mag[i] == expected[i], "path " << int(path) << " right " << right << " g " << g[i]);
            CHECK(sign[i] == (g[i] > 0) - (g[i] < 0));
            want_sum += expected[i];
            want_or |= abs_u64(g[i]);
          }
          CHECK(scaled.sum == want_sum);
          CHECK(scaled.abs_or == want_or);
          const ScaledSum summed = sum_scaled_by_factor_on(path, g.data(), size, k, right);
          CHECK(summed.sum == want_sum);
          CHECK(summed.abs_or == want_or);
        }
      }
    }
  }
  CHECK(nonzero > 10000);
  CHECK(scale_path_supported(best_scale_path()));
}

TEST_CASE("sum_scaled_by_factor_on: mostly zero gradients, several chunks, every length") {
  // The AVX-512 path packs each chunk's nonzero entries first: zeros in
  // every pattern (isolated nonzeros, runs, whole registers of zeros) and
  // lengths that end inside a register and inside a chunk.
  uint64_t draw = 0;
  auto next = [&] { return lo64(philox(11, Stream::test_data, 0, draw++)); };
  const uint64_t k = (uint64_t{100} << 32) + 12345;  // alpha = 100.000003
  const int right = 70;
  std::vector<int64_t> g(1500, 0);
  for (size_t i = 0; i < g.size(); ++i) {
    const uint64_t r = next();
    const bool nonzero = (i % 9 == 4) || (i >= 600 && i < 700) || r % 50 == 0;
    if (nonzero && !(i >= 1000 && i < 1300)) g[i] = static_cast<int64_t>(r >> 20) * ((r & 1) ? 1 : -1);
  }
  for (size_t size : {size_t{0}, size_t{5}, size_t{256}, size_t{263}, size_t{1000}, size_t{1499}, g.size()}) {
    uint64_t want = 0, want_or = 0;
    for (size_t i = 0; i < size; ++i) {
      want += exact_rounding(g[i], k, right);
      want_or |= abs_u64(g[i]);
    }
    CAPTURE(size);
    for (ScalePath path : {ScalePath::scalar, ScalePath::avx512}) {
      if (!scale_path_supported(path)) continue;
      const ScaledSum summed = sum_scaled_by_factor_on(path, g.data(), size, k, right);
      CHECK(summed.sum == want);
      CHECK(summed.abs_or == want_or);
    }
  }
}

TEST_CASE("scale_by_power_of_two_on: |g| 2^shift rounded half to even on every path, every shift") {
  // Right shifts 1..62 (ties at every one, INT64_MIN and INT64_MAX) and left
  // shifts 0..62 on gradients that fit after the shift; lengths that leave
  // a tail after the vector lanes.
  uint64_t draw = 0;
  auto next = [&] { return lo64(philox(13, Stream::test_data, 0, draw++)); };
  for (int shift = -62; shift < 63; ++shift) {
    CAPTURE(shift);
    std::vector<int64_t> g{0, 1, -1, 2, -3};
    const int bits = shift >= 0 ? 63 - shift : 63;  // |g| < 2^bits
    for (int i = 0; i < 40; ++i) {
      const int drop = 64 - bits + (i % 5);  // 64 and more: a = 0
      const auto a = static_cast<int64_t>(drop < 64 ? next() >> drop : 0);
      g.push_back(i % 2 ? a : -a);
    }
    if (shift < 0) {
      g.push_back(std::numeric_limits<int64_t>::max());
      g.push_back(std::numeric_limits<int64_t>::min());
      for (uint64_t q : {0ull, 1ull, 2ull, 7ull}) g.push_back(-static_cast<int64_t>((2 * q + 1) << (-shift - 1)));
    }
    for (ScalePath path : {ScalePath::scalar, ScalePath::avx512}) {
      if (!scale_path_supported(path)) continue;
      CAPTURE(int(path));
      for (size_t size : {g.size(), g.size() - 3, size_t{7}}) {
        std::vector<int8_t> sign(size, 5);
        std::vector<uint64_t> mag(size, 7);
        const ScaledSum scaled = scale_by_power_of_two_on(path, g.data(), sign.data(), mag.data(), size, shift);
        uint64_t want_sum = 0, want_or = 0;
        for (size_t i = 0; i < size; ++i) {
          const uint64_t want = shift >= 0 ? abs_u64(g[i]) << shift : exact_rounding(g[i], 1, -shift);
          CHECK(mag[i] == want);
          CHECK(sign[i] == (g[i] > 0) - (g[i] < 0));
          want_sum += want;
          want_or |= abs_u64(g[i]);
        }
        CHECK(scaled.sum == want_sum);
        CHECK(scaled.abs_or == want_or);
      }
    }
  }
}
