#pragma once
// 128-bit helpers for the optimizers (internal to src/core/optim).
#include <cstdint>

namespace zimt::optim {

__extension__ using u128 = unsigned __int128;  // __extension__: no -Wpedantic warning
__extension__ using i128 = __int128;

// x / 2^s rounded to nearest, ties to even, for s >= 0 (s >= 128 gives 0).
inline u128 shift_round_even_u128(u128 x, int64_t s) {
  if (s <= 0) return x;
  if (s >= 128) return 0;
  const u128 q = x >> s;
  const u128 rem = x & ((u128{1} << s) - 1);
  const u128 half = u128{1} << (s - 1);
  return (rem > half || (rem == half && (q & 1))) ? q + 1 : q;
}

// num / den rounded to nearest, ties to even (den > 0).
inline u128 div_round_even(u128 num, u128 den) {
  const u128 q = num / den;
  const u128 r = num % den;
  return (2 * r > den || (2 * r == den && (q & 1))) ? q + 1 : q;
}

// Number of bits of x (0 for x == 0).
inline int bit_width_u64(uint64_t x) { return x == 0 ? 0 : 64 - __builtin_clzll(x); }

}  // namespace zimt::optim
