#include "zimt/optim/q32.hpp"

#include "zimt/numerics.hpp"

#include <limits>

namespace zimt::optim {

int64_t scale_count(int64_t x, q32 q) {
  if (x <= 0 || q <= 0) return 0;
  const u128 r = shift_round_even_u128(static_cast<u128>(x) * static_cast<u128>(q), 32);
  constexpr auto max = static_cast<u128>(std::numeric_limits<int64_t>::max());
  return static_cast<int64_t>(r > max ? max : r);
}

q32 q32_mul(q32 a, q32 b) {
  const bool negative = (a < 0) != (b < 0);
  const u128 mag = shift_round_even_u128(static_cast<u128>(zimt::abs_u64(a)) * zimt::abs_u64(b), 32);
  constexpr auto max = static_cast<u128>(std::numeric_limits<int64_t>::max());
  const auto clipped = static_cast<int64_t>(mag > max ? max : mag);
  return negative ? -clipped : clipped;
}

}  // namespace zimt::optim
