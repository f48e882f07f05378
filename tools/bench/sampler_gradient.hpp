#pragma once
// The gradient both sampler benchmarks draw from (bench_sampler,
// bench_sharded_draw): int64 mantissas, deterministic in (d, regime).
#include "zimt/rng.hpp"

#include <cstdint>
#include <vector>

namespace zimt::bench {

// Regime 0: 7 % of the entries nonzero; otherwise all. With exponent -40 the
// magnitudes 2^(26..30) are real values of 6e-5 .. 1e-3 per entry.
inline std::vector<int64_t> make_gradient(int64_t d, int regime) {
  std::vector<int64_t> g(static_cast<size_t>(d));
  for (int64_t i = 0; i < d; ++i) {
    const Block b = philox(7, Stream::test_data, 0, static_cast<uint64_t>(i));
    const bool nonzero = regime != 0 || b[0] % 100 < 7;
    const int64_t mag = static_cast<int64_t>(b[1] >> (2 + b[2] % 4));
    g[static_cast<size_t>(i)] = nonzero ? ((b[3] & 1) ? mag : -mag) : 0;
  }
  return g;
}

}  // namespace zimt::bench
