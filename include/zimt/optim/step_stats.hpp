#pragma once
// What one optimizer step did, for metrics.jsonl (saturated, u_l1, changed,
// max_abs_w) and the log.
#include <cstdint>

namespace zimt::optim {

struct StepStats {
  int64_t changed = 0;          // weights whose stored value differs after the step
  int64_t saturated = 0;        // weights whose update was clipped at the storage limit
  int64_t max_abs_w = 0;        // max |w| over all weights after the step
  int64_t u_l1 = 0;             // ||U||_1 of the update as sampled/rounded, before clipping
  int64_t trials = 0;           // multinomial trials drawn (ZIM only)
  bool fallback = false;        // zero-inflated rule: alpha ||g||_1 > n forced the plain multinomial
  int64_t fallback_groups = 0;  // how many multinomials (1 global, or tensors) fell back
};

}  // namespace zimt::optim
