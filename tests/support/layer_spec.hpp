#pragma once
// A LayerSpec in one expression, for tests that write model descriptions by hand.
#include "zimt/model_spec.hpp"

namespace zimt::test {

inline LayerSpec layer(LayerKind kind, int64_t out = 0, int64_t stride = 1) {
  LayerSpec l;
  l.kind = kind;
  l.out = out;
  l.stride = stride;
  return l;
}

}  // namespace zimt::test
