// ExactDivider (exact_divider.hpp) against the hardware division, at the
// edges of its range: divisors at and around powers of two up to 2^55 - 1,
// dividends at multiples of the divisor, one below them and at 2^55 - 1.
#include "zimt/optim/exact_divider.hpp"
#include "zimt/rng.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

using namespace zimt;
using namespace zimt::optim;

TEST_CASE("ExactDivider equals u / C for every u < 2^55") {
  constexpr uint64_t max_u = (uint64_t{1} << ExactDivider::max_dividend_bits) - 1;
  std::vector<uint64_t> divisors{1, 2, 3, 5, 7, 10, 4095, 4096, 4097, 1000003, max_u};
  for (int b = 2; b < ExactDivider::max_dividend_bits; ++b)
    for (int64_t delta : {-1, 0, 1}) divisors.push_back((uint64_t{1} << b) + static_cast<uint64_t>(delta));
  for (uint64_t i = 0; i < 200; ++i) {  // random divisors of every bit length
    const Block r = philox(3, Stream::test_data, 0, i);
    divisors.push_back((lo64(r) >> (i % 55 + 9)) | 1);
  }
  for (uint64_t c : divisors) {
    const ExactDivider div(c);
    std::vector<uint64_t> dividends{0, 1, c - 1, c, c + 1, max_u, max_u - 1};
    for (uint64_t q : {uint64_t{1}, uint64_t{2}, max_u / c, max_u / c - 1, (max_u / c) / 2})
      if (q != 0 && q <= max_u / c) {
        dividends.push_back(q * c);
        dividends.push_back(q * c - 1);
        dividends.push_back(q * c + c - 1);
      }
    for (uint64_t i = 0; i < 64; ++i) dividends.push_back(lo64(philox(4, Stream::test_data, c, i)) & max_u);
    for (uint64_t u : dividends) {
      if (u > max_u) continue;
      CHECK_MESSAGE(div(u) == u / c, "u " << u << " C " << c);
    }
  }
}
