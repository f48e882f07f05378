#include "../kernels/target_clones.hpp"
#include "apply_update.hpp"

#include <algorithm>
#include <cstdlib>

namespace zimt::optim {

namespace {

[[gnu::always_inline]] inline int32_t sign_value(int8_t sign) { return sign; }
[[gnu::always_inline]] inline int32_t sign_value(int64_t g) { return (g > 0) - (g < 0); }

// w and x are (size), sign_of[i]'s sign (-1, 0, +1) is the update's
// direction: a sign itself or the gradient. Counts are clipped to 2^16
// first: |w| <= 32768 and limit <= 32767, so any |update| >= 2^16 saturates
// on the same side and stores the same value; u_l1 sums the unclipped counts
// (each < 2^31, below max_update, so apply_update would not clip them either).
template <class S>
[[gnu::always_inline]] inline void apply_counts_body(int16_t* w, const int32_t* x, const S* sign_of, size_t size,
                                                     int32_t limit, StepStats& s) {
  constexpr size_t block = 4096;  // 32-bit block counters cannot overflow
  for (size_t begin = 0; begin < size; begin += block) {
    const size_t end = std::min(size, begin + block);
    int32_t changed = 0, saturated = 0, max_abs = 0;
    uint32_t l1_low = 0, l1_high = 0;  // sums of the counts' low and high 16 bits
    for (size_t i = begin; i != end; ++i) {
      const int32_t sg = sign_value(sign_of[i]);
      const int32_t count = x[i] & -(sg & 1);  // 0 where sign 0: no update, no l1
      const int32_t old = w[i];
      const int32_t clipped = std::min(count, 65536);
      const int32_t negative = sg >> 31;  // -1 for sign -1, else 0
      const int32_t target = old - ((clipped ^ negative) - negative);
      const int32_t stored = std::min(std::max(target, -limit), limit);
      l1_low += static_cast<uint32_t>(count) & 0xFFFFu;
      l1_high += static_cast<uint32_t>(count) >> 16;
      saturated += stored != target;
      changed += stored != old;
      w[i] = static_cast<int16_t>(stored);
      max_abs = std::max(max_abs, std::abs(stored));
    }
    s.changed += changed;
    s.saturated += saturated;
    s.u_l1 += int64_t{l1_low} + (int64_t{l1_high} << 16);
    s.max_abs_w = std::max<int64_t>(s.max_abs_w, max_abs);
  }
}

}  // namespace

// One version per instruction set (target_clones.hpp), for signs and for gradients.
ZIMT_CLONES void apply_counts_range(int16_t* w, const int32_t* x, const int8_t* sign, size_t size, int32_t limit,
                                    StepStats& s) {
  apply_counts_body(w, x, sign, size, limit, s);
}

ZIMT_CLONES void apply_counts_range(int16_t* w, const int32_t* x, const int64_t* g, size_t size, int32_t limit,
                                    StepStats& s) {
  apply_counts_body(w, x, g, size, limit, s);
}

// apply_counts_range with every count 0: w <- clamp(w) only, written where
// that changes it (never, for weights within the limit), so a block that drew
// no trial is read but not written.
ZIMT_CLONES void clamp_range(int16_t* w, size_t size, int32_t limit, StepStats& s) {
  int32_t changed = 0, max_abs = 0;
  for (size_t i = 0; i != size; ++i) {
    const int32_t old = w[i];
    const int32_t stored = std::min(std::max(old, -limit), limit);
    if (stored != old) w[i] = static_cast<int16_t>(stored);
    changed += stored != old;
    max_abs = std::max(max_abs, std::abs(stored));
  }
  s.changed += changed;
  s.saturated += changed;  // the target was the old value
  s.max_abs_w = std::max<int64_t>(s.max_abs_w, max_abs);
}

}  // namespace zimt::optim
