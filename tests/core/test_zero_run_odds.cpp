// The zero category's odds over runs of trials (zimt/optim/zero_run_odds.hpp)
// against long division in 128-bit integers: fractions of one word directly,
// fractions of several words as the same fraction multiplied out by a
// multi-word factor, and the odds of runs of up to 256 trials where their
// exact value is known.
#include "zimt/numerics.hpp"
#include "zimt/optim/zero_run_odds.hpp"
#include "zimt/rng.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

using namespace zimt;
using namespace zimt::optim;

namespace {

// The first `count` base-2^64 digits of num / den (num < den), and whether
// the expansion ends there (the remainder after them is 0).
std::vector<uint64_t> digits_of(uint64_t num, uint64_t den, int count, bool& ends) {
  std::vector<uint64_t> out;
  u128 r = num;
  for (int k = 0; k < count; ++k) {
    const u128 shifted = r << 64;
    out.push_back(static_cast<uint64_t>(shifted / den));
    r = shifted % den;
  }
  ends = r == 0;
  return out;
}

// The fraction's digits as BinaryFraction gives them.
std::vector<uint64_t> digits_of(const BinaryFraction& f, int count, bool& ends) {
  std::vector<uint64_t> out{f.first_digit()};
  std::vector<uint64_t> r(f.remainder().begin(), f.remainder().end());
  for (int k = 1; k < count; ++k) out.push_back(f.next_digit(r));
  ends = std::all_of(r.begin(), r.end(), [](uint64_t w) { return w == 0; });
  return out;
}

// x · factor for a one-word x and a multi-word factor.
std::vector<uint64_t> times(uint64_t x, const std::vector<uint64_t>& factor) {
  std::vector<uint64_t> out(factor.size() + 1, 0);
  uint64_t carry = 0;
  for (size_t i = 0; i < factor.size(); ++i) {
    const u128 p = static_cast<u128>(x) * factor[i] + carry;
    out[i] = static_cast<uint64_t>(p);
    carry = static_cast<uint64_t>(p >> 64);
  }
  out.back() = carry;
  while (!out.empty() && out.back() == 0) out.pop_back();
  return out;
}

// Words read by BinaryFraction::below from a fixed list.
struct ListedWords {
  std::vector<uint64_t> words;
  size_t read = 0;
  uint64_t operator()() { return words.at(read++); }
};

}  // namespace

TEST_CASE("BinaryFraction: the digits of one-word fractions are those of long division") {
  const uint64_t top = ~uint64_t{0};
  const std::vector<std::pair<uint64_t, uint64_t>> fractions{{1, 3},
                                                             {1, 4},
                                                             {2, 3},
                                                             {0, 5},
                                                             {top - 1, top},
                                                             {1, top},
                                                             {12345, 99991},
                                                             {(uint64_t{1} << 63) + 7, top - 58},
                                                             {5, uint64_t{1} << 63}};
  for (const auto& fraction : fractions) {
    const uint64_t num = fraction.first, den = fraction.second;
    CAPTURE(num);
    CAPTURE(den);
    BinaryFraction f;
    const std::vector<uint64_t> n{num}, d{den};
    f.assign(n, d);
    bool ends = false, reference_ends = false;
    CHECK(digits_of(f, 6, ends) == digits_of(num, den, 6, reference_ends));
    CHECK(ends == reference_ends);
  }
}

TEST_CASE("BinaryFraction: fractions of several words give the digits of the same fraction in one word") {
  // (x K) / (y K) = x / y for multi-word K: every normalising shift, and
  // estimates of the digit that are too large (den's second word large, the
  // remainder's top words near den's).
  for (uint64_t k = 0; k < 200; ++k) {
    const Block b = philox(3, Stream::test_data, 0, k);
    std::vector<uint64_t> factor{lo64(b), hi64(b), 1 + (b[0] >> (k % 32))};
    if (k % 3 == 0) factor.push_back(~uint64_t{0} - k);
    const Block c = philox(4, Stream::test_data, 0, k);
    uint64_t y = hi64(c) >> (k % 40);
    if (y < 2) y = 2;
    if (k % 5 == 0) y = ~uint64_t{0} - k;  // den's top word near 2^64
    const uint64_t x = lo64(c) % y;
    CAPTURE(k);
    BinaryFraction f;
    f.assign(times(x, factor), times(y, factor));
    bool ends = false, reference_ends = false;
    CHECK(digits_of(f, 8, ends) == digits_of(x, y, 8, reference_ends));
    CHECK(ends == reference_ends);
  }
}

TEST_CASE("BinaryFraction::below compares words with the digits in turn") {
  BinaryFraction quarter;  // 1/4: digits 2^62, then 0 (the expansion ends)
  quarter.assign(std::vector<uint64_t>{1}, std::vector<uint64_t>{4});
  BinaryFraction third;  // 1/3: every digit 0x5555...
  third.assign(std::vector<uint64_t>{1}, std::vector<uint64_t>{3});
  const uint64_t q = uint64_t{1} << 62, t = 0x5555555555555555ull;
  std::vector<uint64_t> scratch;
  auto below = [&](const BinaryFraction& f, std::vector<uint64_t> words) {
    ListedWords w{std::move(words)};
    const bool result = f.below(w, scratch);
    CHECK(w.read == w.words.size());  // read exactly the words needed
    return result;
  };
  CHECK(below(quarter, {q - 1}));
  CHECK_FALSE(below(quarter, {q}));  // X >= 1/4 once the digits end
  CHECK_FALSE(below(quarter, {q + 1}));
  CHECK(below(third, {t - 1}));
  CHECK_FALSE(below(third, {t + 1}));
  CHECK(below(third, {t, t, t - 1}));
  CHECK_FALSE(below(third, {t, t, t, t + 1}));
}

TEST_CASE("ZeroRunOdds: (Z/T)^m and Z^m / (T^m + Z^m) for runs of m = 2^level trials") {
  SUBCASE("small weights: one-word fractions up to m = 8") {
    for (const auto& [zero, total] :
         std::vector<std::pair<uint64_t, uint64_t>>{{250, 251}, {3, 7}, {0, 9}, {126, 127}}) {
      ZeroRunOdds odds;
      odds.prepare(zero, total, 3);
      uint64_t zm = zero, tm = total;
      for (int level = 0; level <= 3; ++level) {
        CAPTURE(level);
        bool ends = false, reference_ends = false;
        CHECK(digits_of(odds.all_zero(level), 4, ends) == digits_of(zm, tm, 4, reference_ends));
        CHECK(ends == reference_ends);
        if (level < 3) {
          CHECK(digits_of(odds.left_empty(level), 4, ends) == digits_of(zm, tm + zm, 4, reference_ends));
          CHECK(ends == reference_ends);
        }
        zm *= zm;
        tm *= tm;
      }
    }
  }
  SUBCASE("large weights, runs of up to 256: Z = c, T = 2 c gives 2^-m, T = 3 c gives 1 / (3^m + 1)") {
    const uint64_t c = (uint64_t{1} << 54) + 12345;
    ZeroRunOdds halves, thirds;
    halves.prepare(c, 2 * c, 8);
    thirds.prepare(c, 3 * c, 8);
    for (int level = 0; level <= 8; ++level) {
      CAPTURE(level);
      const int m = 1 << level;
      // 2^-m: the digit 2^(64 k - m) at k = ceil(m / 64), every other digit 0.
      std::vector<uint64_t> expected(6, 0);
      const int k = (m + 63) / 64;
      expected[static_cast<size_t>(k - 1)] = uint64_t{1} << (64 * k - m);
      bool ends = false;
      CHECK(digits_of(halves.all_zero(level), 6, ends) == expected);
      CHECK(ends);
      if (level <= 5) {  // 3^32 + 1 < 2^64
        uint64_t power = 1;
        for (int i = 0; i < m; ++i) power *= 3;
        bool reference_ends = false;
        CHECK(digits_of(thirds.left_empty(level), 5, ends) == digits_of(1, power + 1, 5, reference_ends));
      }
    }
  }
}
