// Data order: a seeded permutation per epoch, reproducible, unbiased.
#include "zimt/data_order.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

TEST_CASE("each epoch's order is a permutation fixed by (seed, epoch)") {
  const auto a = zimt::epoch_order(1000, 7, 3, true);
  auto sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (uint32_t i = 0; i < 1000; ++i) REQUIRE(sorted[i] == i);
  CHECK(a == zimt::epoch_order(1000, 7, 3, true));
  CHECK(a != zimt::epoch_order(1000, 7, 4, true));
  CHECK(a != zimt::epoch_order(1000, 8, 3, true));
  const auto identity = zimt::epoch_order(5, 7, 3, false);
  CHECK(identity == std::vector<uint32_t>{0, 1, 2, 3, 4});
  CHECK(zimt::epoch_order(0, 1, 0, true).empty());
  CHECK(zimt::epoch_order(1, 1, 0, true) == std::vector<uint32_t>{0});
}

TEST_CASE("every element lands in every position equally often (chi-square)") {
  // n = 4 positions x 4 elements over R epochs: each cell ~ Binomial(R, 1/4).
  constexpr int n = 4, R = 8000;
  std::vector<int> count(n * n, 0);
  for (int e = 0; e < R; ++e) {
    const auto order = zimt::epoch_order(n, 11, static_cast<uint64_t>(e), true);
    for (int pos = 0; pos < n; ++pos)
      ++count[static_cast<size_t>(pos * n + static_cast<int>(order[static_cast<size_t>(pos)]))];
  }
  // Each row is multinomial(R, uniform over 4); sum of 4 row statistics has
  // 4 * 3 = 12 degrees of freedom. P(chi2_12 > 40) ~ 7e-5.
  double chi2 = 0;
  const double expected = R / double(n);
  for (int c : count) chi2 += (c - expected) * (c - expected) / expected;
  CHECK(chi2 < 40.0);
}
