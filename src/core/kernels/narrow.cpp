#include "zimt/kernels/narrow.hpp"

#include <cassert>

namespace zimt::kernels {

void narrow_to_int8(int8_t* out, const int16_t* w, int64_t count) {
  for (int64_t i = 0; i < count; ++i) {
    assert(w[i] >= -127 && w[i] <= 127);
    out[i] = static_cast<int8_t>(w[i]);
  }
}

}  // namespace zimt::kernels
