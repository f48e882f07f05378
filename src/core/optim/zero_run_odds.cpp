#include "zimt/optim/zero_run_odds.hpp"

#include "zimt/numerics.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>

namespace zimt::optim {

namespace {

// x without its zero top words.
void trim(std::vector<uint64_t>& x) {
  while (!x.empty() && x.back() == 0) x.pop_back();
}

// out = x², schoolbook (x has at most a few hundred words).
void square(const std::vector<uint64_t>& x, std::vector<uint64_t>& out) {
  const size_t n = x.size();
  out.assign(2 * n, 0);
  for (size_t i = 0; i < n; ++i) {
    uint64_t carry = 0;
    for (size_t j = 0; j < n; ++j) {
      const u128 t = static_cast<u128>(x[i]) * x[j] + out[i + j] + carry;
      out[i + j] = static_cast<uint64_t>(t);
      carry = static_cast<uint64_t>(t >> 64);
    }
    out[i + n] = carry;
  }
  trim(out);
}

// out = a + b.
void add(const std::vector<uint64_t>& a, const std::vector<uint64_t>& b, std::vector<uint64_t>& out) {
  const size_t n = std::max(a.size(), b.size());
  out.assign(n + 1, 0);
  uint64_t carry = 0;
  for (size_t i = 0; i < n; ++i) {
    const u128 t = static_cast<u128>(i < a.size() ? a[i] : 0) + (i < b.size() ? b[i] : 0) + carry;
    out[i] = static_cast<uint64_t>(t);
    carry = static_cast<uint64_t>(t >> 64);
  }
  out[n] = carry;
  trim(out);
}

// out[0, x.size()] = the low words of x 2^shift, 0 <= shift < 64 (out may be
// longer than x: its further words are left as they are).
void shift_left(std::span<const uint64_t> x, int shift, std::vector<uint64_t>& out) {
  uint64_t spill = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    out[i] = shift == 0 ? x[i] : (x[i] << shift) | spill;
    spill = shift == 0 ? 0 : x[i] >> (64 - shift);
  }
  if (x.size() < out.size()) out[x.size()] |= spill;
}

}  // namespace

bool BinaryFraction::is_zero(std::span<const uint64_t> x) {
  return std::all_of(x.begin(), x.end(), [](uint64_t w) { return w == 0; });
}

void BinaryFraction::reserve(size_t words) {
  den_.reserve(words);
  remainder_.reserve(words + 1);
}

void BinaryFraction::assign(std::span<const uint64_t> num, std::span<const uint64_t> den) {
  if (den.empty() || den.back() == 0 || num.size() > den.size())
    throw std::invalid_argument("BinaryFraction: den must have a nonzero top word and at least num's words");
  const size_t n = den.size();
  const int shift = __builtin_clzll(den.back());
  // Both shifted left by `shift`: den's top bit set; num < den keeps num within n words.
  den_.resize(n);
  shift_left(den, shift, den_);
  remainder_.reserve(n + 1);
  remainder_.assign(n, 0);
  shift_left(num, shift, remainder_);
  // num < den: the remainder (num) must compare below den from the top word down.
  if (!std::lexicographical_compare(remainder_.rbegin(), remainder_.rend(), den_.rbegin(), den_.rend()))
    throw std::invalid_argument("BinaryFraction: num must be below den");
  first_ = next_digit(remainder_);
}

// One step of long division in base 2^64 (Knuth, TAOCP vol. 2, 4.3.1,
// Algorithm D): the digit's estimate from the top two words of r 2^64 over
// den's top word is at most 2 too large when den's top bit is set; r 2^64 -
// estimate den is formed in place, and den added back while it is negative.
uint64_t BinaryFraction::next_digit(std::vector<uint64_t>& r) const {
  const size_t n = den_.size();
  r.insert(r.begin(), 0);  // r 2^64: n + 1 words
  const u128 top = (static_cast<u128>(r[n]) << 64) | r[n - 1];
  uint64_t q = static_cast<uint64_t>(std::min<u128>(top / den_[n - 1], std::numeric_limits<uint64_t>::max()));
  uint64_t carry = 0, borrow = 0;
  for (size_t i = 0; i < n; ++i) {
    const u128 p = static_cast<u128>(q) * den_[i] + carry;
    carry = static_cast<uint64_t>(p >> 64);
    const auto low = static_cast<uint64_t>(p);
    const uint64_t d = r[i] - low;
    const uint64_t b = r[i] < low;
    r[i] = d - borrow;
    borrow = b + (d < borrow);
  }
  // The top word as a signed value: r[n] - carry - borrow, negative when q was too large.
  i128 high = static_cast<i128>(r[n]) - carry - borrow;
  while (high < 0) {
    --q;
    uint64_t c = 0;
    for (size_t i = 0; i < n; ++i) {
      const u128 s = static_cast<u128>(r[i]) + den_[i] + c;
      r[i] = static_cast<uint64_t>(s);
      c = static_cast<uint64_t>(s >> 64);
    }
    high += c;
  }
  r.pop_back();  // high == 0: the remainder is below den
  return q;
}

void ZeroRunOdds::reserve(int levels) {
  // T^m < 2^(64 m) has at most m words, T^m + Z^m one more, a square's
  // scratch twice as many: room for the largest, whatever T is.
  const size_t words = max_words(levels);
  if (all_zero_.size() < static_cast<size_t>(levels) + 1) all_zero_.resize(static_cast<size_t>(levels) + 1);
  if (left_empty_.size() < static_cast<size_t>(levels)) left_empty_.resize(static_cast<size_t>(levels));
  for (std::vector<uint64_t>* x : {&zero_power_, &total_power_, &sum_, &square_}) x->reserve(2 * words);
  for (BinaryFraction& f : all_zero_) f.reserve(words);
  for (BinaryFraction& f : left_empty_) f.reserve(words);
}

void ZeroRunOdds::prepare(uint64_t zero, uint64_t total, int levels) {
  if (zero >= total) throw std::invalid_argument("ZeroRunOdds: the zero weight must be below the total");
  reserve(levels);
  zero_power_.assign(1, zero);
  total_power_.assign(1, total);
  trim(zero_power_);
  for (int level = 0;; ++level) {
    all_zero_[static_cast<size_t>(level)].assign(zero_power_, total_power_);
    if (level == levels) break;
    add(total_power_, zero_power_, sum_);
    left_empty_[static_cast<size_t>(level)].assign(zero_power_, sum_);
    square(zero_power_, square_);
    zero_power_.swap(square_);
    square(total_power_, square_);
    total_power_.swap(square_);
  }
}

}  // namespace zimt::optim
