#pragma once
// One entry point for the training loop: the configured optimizer's step on
// a ParamSet. The config layer maps /optimizer/* onto OptimizerParams
// (real values as Q32.32, q32.hpp).
#include "zimt/optim/int_sgd.hpp"
#include "zimt/optim/step_stats.hpp"
#include "zimt/optim/zim_optimizer.hpp"
#include "zimt/param.hpp"

#include <cstdint>

namespace zimt::optim {

enum class OptimizerType : uint8_t { zim, int_sgd, sign_sgd };

struct OptimizerParams {
  OptimizerType type = OptimizerType::zim;
  ZimParams zim;
  IntSgdParams int_sgd;
};

class Optimizer {
 public:
  explicit Optimizer(const OptimizerParams& params) : type_(params.type), zim_(params.zim), int_sgd_(params.int_sgd) {}

  // w <- w - U for gradient p.g at training step `step`; a pure function of
  // (p, seed, step) and the parameters. The processes of `group` all call it
  // with the same gradients: ZIM splits its draw among them, the other rules
  // run whole on each.
  StepStats step(ParamSet& p, uint64_t seed, uint64_t step, const BatchReducer& group = single_process()) {
    switch (type_) {
      case OptimizerType::zim: return zim_.step(p, seed, step, group);
      case OptimizerType::int_sgd: return int_sgd_step(p, int_sgd_, seed, step);
      case OptimizerType::sign_sgd: return sign_sgd_step(p);
    }
    return {};
  }

 private:
  OptimizerType type_;
  ZimOptimizer zim_;
  IntSgdParams int_sgd_;
};

}  // namespace zimt::optim
