#include "zimt/optim/schedule.hpp"

#include "zimt/numerics.hpp"

#include <algorithm>

namespace zimt::optim {

namespace {

constexpr int frac_bits = 62;
constexpr uint64_t one_q62 = uint64_t{1} << frac_bits;
// pi / 2 * 2^62, rounded to nearest (pi/2 = 1.5707963267948966192313...).
constexpr uint64_t half_pi_q62 = 7244019458077122842ull;

uint64_t mul_q62(uint64_t a, uint64_t b) {
  return static_cast<uint64_t>(shift_round_even_u128(static_cast<u128>(a) * b, frac_bits));
}

// cos(theta) in Q2.62 for 0 <= theta <= pi/2 (theta in Q2.62): Taylor series to
// theta^26, whose remainder (pi/2)^28 / 28! < 2^-70; each of the 13 terms
// rounds by at most 2^-63, so the error is below 2^-58.
int64_t cos_q62(uint64_t theta) {
  const uint64_t theta2 = mul_q62(theta, theta);
  int64_t sum = static_cast<int64_t>(one_q62);
  uint64_t term = one_q62;
  for (uint64_t k = 1; k <= 13; ++k) {
    term = mul_q62(term, theta2) / ((2 * k - 1) * (2 * k));
    sum += (k % 2 == 1) ? -static_cast<int64_t>(term) : static_cast<int64_t>(term);
  }
  return sum;
}

}  // namespace

q32 cos_pi_fraction(uint64_t num, uint64_t den) {
  // Fold x > 1/2 onto [0, 1/2] with cos(pi x) = -cos(pi (1 - x)).
  const bool upper = 2 * num > den;  // x > 1/2
  const uint64_t folded = upper ? den - num : num;
  // theta = pi folded / den in [0, pi/2], Q2.62
  const auto theta = static_cast<uint64_t>(
      div_round_half_up_u128(static_cast<u128>(folded) * (2 * static_cast<u128>(half_pi_q62)), den));
  const auto c = static_cast<int64_t>(
      shift_round_even_u128(static_cast<u128>(std::max<int64_t>(cos_q62(theta), 0)), frac_bits - 32));
  return upper ? -c : c;
}

q32 schedule_factor(const Schedule& s, uint64_t step) {
  switch (s.kind) {
    case ScheduleKind::constant: return q32_one;
    case ScheduleKind::step: {
      // gamma^periods by squaring, rounding each product.
      uint64_t periods = step / static_cast<uint64_t>(std::max<int64_t>(s.every, 1));
      q32 result = q32_one;
      q32 base = std::max<q32>(s.gamma, 0);
      while (periods != 0 && result != 0) {
        if (periods & 1) result = q32_mul(result, base);
        base = q32_mul(base, base);
        periods >>= 1;
      }
      return result;
    }
    case ScheduleKind::cosine: {
      const auto total = static_cast<uint64_t>(std::max<int64_t>(s.total_steps, 1));
      const uint64_t done = std::min(step, total);
      // (1 + cos(pi done / total)) / 2 in Q32, then final + (1 - final) * that.
      const q32 half_cos = (q32_one + cos_pi_fraction(done, total) + 1) / 2;  // round half up; exact at the ends
      const q32 final = std::max<q32>(s.final, 0);
      return final + q32_mul(q32_one - final, half_cos);
    }
  }
  return q32_one;
}

}  // namespace zimt::optim
