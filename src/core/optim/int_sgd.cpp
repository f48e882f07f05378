#include "zimt/optim/int_sgd.hpp"

#include "apply_update.hpp"
#include "zimt/numerics.hpp"
#include "zimt/optim/philox_batch.hpp"
#include "zimt/rng.hpp"

#include <algorithm>

namespace zimt::optim {

static_assert(update_run == philox_run_blocks, "one Philox run per run of updates");

StepStats int_sgd_step(ParamSet& p, const IntSgdParams& params, uint64_t seed, uint64_t step) {
  const q32 lr = std::max<q32>(q32_mul(params.lr, schedule_factor(params.schedule, step)), 0);
  const int32_t limit = weight_limit(p.storage);
  StepStats stats;
  for (const auto& t : p.tensors) {
    // real update / weight unit = |g| lr 2^(g_exp - w_exp - 32)
    const int64_t shift = 32 - (int64_t{t.g_exp} - t.w_exp);
    const int64_t* g = p.g.data() + t.offset;
    const size_t offset = t.offset;
    if (shift >= 0) {
      // Stochastic rounding: weight i's word is lo64(philox(seed, sgd_round,
      // step, offset + i)), a run of 64 weights' words at a time.
      const PhiloxPath path = best_philox_path();
      accumulate(
          stats, apply_update_runs(p.w.data() + offset, t.numel, limit, [&](size_t begin, size_t count, int64_t* u) {
            PhiloxRunWords words;
            philox_run_on(path, seed, Stream::sgd_round, step, offset + begin, words);
            for (size_t k = 0; k < count; ++k) {
              const int64_t gi = g[begin + k];
              const u128 m = static_cast<u128>(abs_u64(gi)) * static_cast<uint64_t>(lr);
              const auto mag = static_cast<int64_t>(
                  std::min<u128>(shift_round_stochastic_u128(m, shift, words[2 * k]), static_cast<u128>(max_update)));
              u[k] = gi < 0 ? -mag : mag;  // 0 for g = 0 or lr = 0: m = 0
            }
          }));
      continue;
    }
    // Left shift: saturate once the update is beyond max_update.
    accumulate(stats, apply_update(p.w.data() + offset, t.numel, limit, [&](size_t i) -> int64_t {
                 const u128 m = static_cast<u128>(abs_u64(g[i])) * static_cast<uint64_t>(lr);
                 if (m == 0) return 0;
                 const int64_t mag = (-shift >= 64 || m > (static_cast<u128>(max_update) >> -shift))
                                         ? max_update
                                         : static_cast<int64_t>(m << -shift);
                 return g[i] < 0 ? -mag : mag;
               }));
  }
  return stats;
}

StepStats sign_sgd_step(ParamSet& p) {
  const int64_t* g = p.g.data();
  return apply_update(p.w.data(), p.size(), weight_limit(p.storage),
                      [g](size_t i) -> int64_t { return (g[i] > 0) - (g[i] < 0); });
}

}  // namespace zimt::optim
