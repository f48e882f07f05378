#pragma once
// Schedules for the optimizer's trial count n, ZIM's alpha or SGD's learning
// rate: a Q32.32 factor (q32.hpp) of the configured value at each step.
//
//   constant : 1
//   step     : gamma^floor(step / every)                (gamma in Q32.32)
//   cosine   : final + (1 - final) (1 + cos(pi s / total)) / 2,  s = min(step, total)
//              (from 1 at step 0 down to `final` at step `total`, then flat)
//
// All integer: the cosine comes from a Taylor series in Q2.62 fixed point
// (cos_pi_fraction below, error < 2^-40), every product is rounded half to
// even. Factors saturate at INT64_MAX.
#include "zimt/optim/q32.hpp"

#include <cstdint>

namespace zimt::optim {

enum class ScheduleKind : uint8_t { constant, step, cosine };

struct Schedule {
  ScheduleKind kind = ScheduleKind::constant;
  int64_t every = 1;        // step: period in steps (>= 1)
  q32 gamma = q32_one;      // step: factor per period (>= 0)
  int64_t total_steps = 1;  // cosine: length (>= 1)
  q32 final = 0;            // cosine: factor reached at total_steps (>= 0)
};

// The schedule's factor at `step`, in Q32.32.
q32 schedule_factor(const Schedule& s, uint64_t step);

// cos(pi num / den) in Q32.32 for 0 <= num <= den, den >= 1 (rounded to nearest).
q32 cos_pi_fraction(uint64_t num, uint64_t den);

}  // namespace zimt::optim
