#pragma once
// Exact odds of the zero category over runs of trials, for the sampler's
// first stage by runs (zim.hpp). With zero weight Z and total weight T
// (Z < T < 2^64), for runs of m = 2^level trials:
//   all_zero(level)   = (Z/T)^m             every trial of the run lands in
//                                           the zero category
//   left_empty(level) = Z^m / (T^m + Z^m)   given that a run of 2m trials has
//                                           one outside the zero category,
//                                           none of its first m has
// (the second: P(first m in the zero category, not all 2m) / P(not all 2m)
// = Z^m (T^m - Z^m) / (T^2m - Z^2m)). Each is a rational number p in [0, 1),
// held as the exact multi-word integers of its numerator and denominator.
//
// An event of probability exactly p is read from 64-bit words w1, w2, ...
// as X < p, where X = 0.w1 w2 ... in base 2^64 is uniform on [0, 1): the
// words are compared with p's base-2^64 digits in turn, so a second word is
// read only when the first equals p's first digit (probability 2^-64).
// Integers only: every digit is the exact quotient of long division.
#include <cstdint>
#include <span>
#include <vector>

namespace zimt::optim {

// num / den in [0, 1) as base-2^64 digits: d_1 = floor(p 2^64), then each
// next digit from the remainder of the last.
class BinaryFraction {
 public:
  // num < den; both little-endian 64-bit words, den with a nonzero last word
  // (num may have fewer words).
  void assign(std::span<const uint64_t> num, std::span<const uint64_t> den);

  uint64_t first_digit() const { return first_; }

  // Room for a den of up to `words` words: a later assign up to that size allocates nothing.
  void reserve(size_t words);

  // X < p for X read from words() (a functor returning uniform 64-bit
  // words); scratch holds the remainder when more than one digit is needed.
  template <class Words>
  bool below(Words& words, std::vector<uint64_t>& scratch) const {
    const uint64_t w = words();
    if (w != first_) return w < first_;
    scratch.assign(remainder_.begin(), remainder_.end());
    for (;;) {
      if (is_zero(scratch)) return false;  // p's digits end: X >= p
      const uint64_t digit = next_digit(scratch);
      const uint64_t next = words();
      if (next != digit) return next < digit;
    }
  }

  // p's digits d_2, d_3, ... from a remainder (the one after the first digit
  // is remainder()): returns the next digit and leaves its remainder.
  uint64_t next_digit(std::vector<uint64_t>& remainder) const;
  std::span<const uint64_t> remainder() const { return remainder_; }

 private:
  static bool is_zero(std::span<const uint64_t> x);

  // Both shifted left so that den's top bit is set (the quotient digits are
  // the same; the remainder is shifted alike).
  std::vector<uint64_t> den_;
  std::vector<uint64_t> remainder_;  // num 2^64 - d_1 den, shifted, as many words as den_
  uint64_t first_ = 0;
};

class ZeroRunOdds {
 public:
  // Room for the fractions of `levels` and any weights: after it, prepare
  // with at most `levels` allocates nothing.
  void reserve(int levels);
  // The fractions for levels 0 .. levels (left_empty: 0 .. levels - 1); zero < total.
  void prepare(uint64_t zero, uint64_t total, int levels);

  const BinaryFraction& all_zero(int level) const { return all_zero_[static_cast<size_t>(level)]; }
  const BinaryFraction& left_empty(int level) const { return left_empty_[static_cast<size_t>(level)]; }
  // The words `below`'s scratch needs for any fractions of `levels`.
  static size_t max_words(int levels) { return (size_t{1} << levels) + 2; }

 private:
  std::vector<BinaryFraction> all_zero_, left_empty_;
  std::vector<uint64_t> zero_power_, total_power_, sum_, square_;  // Z^m, T^m, T^m + Z^m, scratch
};

}  // namespace zimt::optim
