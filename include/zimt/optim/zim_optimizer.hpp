#pragma once
// The ZIM update on a model's parameters (docs/design.md, Update rules):
//   gradients of all tensors (ParamSet::g with g_exp, relative to the integer
//   weight: exponent g_exp + w_exp) -> X ~ rule (zim.hpp) -> w <- w - X ⊙ sign(g),
//   saturated at the WeightStorage limit and counted.
//
// scope global     : one multinomial over all d parameters, trials keyed
//                    (seed, Stream::sample, step, trial j)
// scope per_tensor : one multinomial per tensor t with
//                    n_t = round-half-even(n numel_t / d) trials (n = d gives
//                    n_t = numel_t), keyed with first trial t * 2^40
// n                : absolute, or a Q32.32 fraction of d (default 1: n = d),
//                    then times the schedule's factor if the schedule
//                    targets n, rounded half to even and capped at INT32_MAX
// alpha            : times the schedule's factor if it targets alpha
#include "zimt/optim/schedule.hpp"
#include "zimt/optim/step_stats.hpp"
#include "zimt/optim/zim.hpp"
#include "zimt/param.hpp"

#include <cstdint>
#include <vector>

namespace zimt::optim {

enum class Scope : uint8_t { global, per_tensor };
enum class ScheduleTarget : uint8_t { n, alpha };

struct TrialCount {
  bool is_fraction = true;
  q32 fraction = q32_one;  // n = round-half-even(fraction * d) when is_fraction
  int64_t absolute = 0;    // n when !is_fraction
  int64_t resolve(int64_t d) const { return is_fraction ? scale_count(d, fraction) : absolute; }
};

struct ZimParams {
  ZimRule rule = ZimRule::authors;
  Scope scope = Scope::global;
  TrialCount n;
  q32 c = q32_one;
  q32 alpha = q32_one;
  Schedule schedule;
  ScheduleTarget schedule_target = ScheduleTarget::n;
};

class ZimOptimizer {
 public:
  // Throws std::invalid_argument for negative n, c, alpha or fraction.
  explicit ZimOptimizer(ZimParams params);
  // The draw is split over the processes of `group`, each of which calls
  // step with the same arguments (sharded_draw.hpp).
  StepStats step(ParamSet& p, uint64_t seed, uint64_t step, const BatchReducer& group = single_process());
  const ZimParams& params() const { return params_; }

 private:
  ZimParams params_;
  ZimWorkspace ws_;
  std::vector<StepStats> per_slot_;  // the update's counters per slot of the task arena
  std::vector<GradientSlice> slices_;
};

}  // namespace zimt::optim
