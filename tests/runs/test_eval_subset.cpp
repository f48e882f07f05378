// The test subset used between epoch ends: fixed, distinct, spread over the set.
#include "zimt/runs/engine.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <set>

TEST_CASE("evaluation subsets are fixed pseudo-random samples of the test set") {
  const auto a = zimt::runs::eval_subset(10000, 1000);
  REQUIRE(a.size() == 1000);
  CHECK(a == zimt::runs::eval_subset(10000, 1000));
  CHECK(std::set<uint32_t>(a.begin(), a.end()).size() == 1000);
  CHECK(*std::max_element(a.begin(), a.end()) < 10000);
  // Not the first images: about 10 % of the subset falls in each tenth of the set
  // (Binomial(1000, 0.1): mean 100, sd 9.5; bounds at +-6 sd).
  for (uint32_t tenth = 0; tenth < 10; ++tenth) {
    const auto in = std::count_if(a.begin(), a.end(), [&](uint32_t i) { return i / 1000 == tenth; });
    CHECK(in > 43);
    CHECK(in < 157);
  }
  // A smaller subset is a prefix of a larger one, so curves at different sizes nest.
  const auto b = zimt::runs::eval_subset(10000, 200);
  CHECK(std::equal(b.begin(), b.end(), a.begin()));
  const auto all = zimt::runs::eval_subset(50, 50);
  for (uint32_t i = 0; i < 50; ++i) CHECK(all[i] == i);
}
