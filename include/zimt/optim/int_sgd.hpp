#pragma once
// Integer baselines (NITI-style), all integer, saturating per WeightStorage.
//
// int_sgd  : w <- w - round_stochastic(lr g 2^(g_exp - w_exp))
//            i.e. the real update lr * g requantised to the weight's scale;
//            lr in Q32.32 (a power of two is exact), times the schedule's
//            factor. Stochastic rounding of |lr g| (so E[update] = lr g
//            exactly in weight units) with the 64-bit word
//            lo64(philox(seed, Stream::sgd_round, step, i)) for weight i;
//            when more than 64 fractional bits remain, they are first rounded
//            to nearest (bias < 2^-64 of a weight unit). Exact zeros stay put.
// sign_sgd : w <- w - sign(g), unit steps against the gradient's sign.
#include "zimt/optim/q32.hpp"
#include "zimt/optim/schedule.hpp"
#include "zimt/optim/step_stats.hpp"
#include "zimt/param.hpp"

#include <cstdint>

namespace zimt::optim {

struct IntSgdParams {
  q32 lr = q32_one / 100;  // ~0.01 (the Figure 1 baseline)
  Schedule schedule;       // multiplies lr
};

StepStats int_sgd_step(ParamSet& p, const IntSgdParams& params, uint64_t seed, uint64_t step);

StepStats sign_sgd_step(ParamSet& p);

}  // namespace zimt::optim
