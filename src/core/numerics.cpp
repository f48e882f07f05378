#include "zimt/numerics.hpp"

namespace zimt {

uint64_t isqrt_u64(uint64_t x) {
  // Digit-by-digit (base 4) square root: exact, branch-light, integer only.
  uint64_t root = 0;
  uint64_t bit = uint64_t{1} << 62;
  while (bit > x) bit >>= 2;
  while (bit != 0) {
    if (x >= root + bit) {
      x -= root + bit;
      root = (root >> 1) + bit;
    } else {
      root >>= 1;
    }
    bit >>= 2;
  }
  return root;
}

}  // namespace zimt
