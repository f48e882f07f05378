#pragma once
// w <- clamp(w - U, -limit, +limit) with the step's counters (internal to
// src/core/optim). U comes from a functor delta(i) -> int64 with
// |delta| clipped to max_update, so ||U||_1 over up to 2^26 weights fits an int64.
#include "zimt/optim/step_stats.hpp"

#include <tbb/blocked_range.h>
#include <tbb/parallel_reduce.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace zimt::optim {

// Updates larger than this are clipped before use: far beyond any storage
// limit (32767), so the stored result is the same.
inline constexpr int64_t max_update = int64_t{1} << 36;

inline int64_t clip_update(int64_t u) { return std::clamp(u, -max_update, max_update); }

// Adds the counters of one range to the step's totals.
inline void accumulate(StepStats& total, const StepStats& part) {
  total.changed += part.changed;
  total.saturated += part.saturated;
  total.u_l1 += part.u_l1;
  total.max_abs_w = std::max(total.max_abs_w, part.max_abs_w);
}

// w <- clamp(w - clip_update(u), -limit, limit) for one weight, counted in s.
inline void apply_one(int16_t& w, int64_t u, int32_t limit, StepStats& s) {
  u = clip_update(u);
  const int64_t target = int64_t{w} - u;
  const int64_t stored = std::clamp<int64_t>(target, -limit, limit);
  s.u_l1 += u < 0 ? -u : u;
  s.saturated += stored != target;
  s.changed += stored != w;
  w = static_cast<int16_t>(stored);
  s.max_abs_w = std::max<int64_t>(s.max_abs_w, stored < 0 ? -stored : stored);
}

inline StepStats join_stats(StepStats a, const StepStats& b) {
  accumulate(a, b);
  return a;
}

// w is (size), delta(i) the update of w[i]. Returns changed, saturated, u_l1
// and max_abs_w over this range (the other fields are left 0).
template <class Delta>
StepStats apply_update(int16_t* w, size_t size, int32_t limit, const Delta& delta) {
  auto body = [&](const tbb::blocked_range<size_t>& r, StepStats s) {
    for (size_t i = r.begin(); i != r.end(); ++i) apply_one(w[i], delta(i), limit, s);
    return s;
  };
  return tbb::parallel_reduce(tbb::blocked_range<size_t>(0, size, 16384), StepStats{}, body, join_stats);
}

// Updates computed a run at a time (for updates that draw random words in
// batches): fill(begin, count, u) writes the updates of w[begin, begin +
// count), count <= update_run. Otherwise as apply_update.
inline constexpr size_t update_run = 64;

template <class Fill>
StepStats apply_update_runs(int16_t* w, size_t size, int32_t limit, const Fill& fill) {
  auto body = [&](const tbb::blocked_range<size_t>& r, StepStats s) {
    int64_t u[update_run];
    for (size_t begin = r.begin(); begin < r.end(); begin += update_run) {
      const size_t count = std::min(update_run, r.end() - begin);
      fill(begin, count, u);
      for (size_t k = 0; k < count; ++k) apply_one(w[begin + k], u[k], limit, s);
    }
    return s;
  };
  return tbb::parallel_reduce(tbb::blocked_range<size_t>(0, size, 16384), StepStats{}, body, join_stats);
}

// The same update and counters as apply_update with delta(i) = x[i] *
// sign[i] (ZIM: counts x[i] >= 0, signs in {-1, 0, +1}) on w[0, size), added
// to s; in 32-bit lanes, AVX-512 or AVX2 when the CPU has it
// (apply_counts.cpp). The second form takes the signs of the gradient g.
void apply_counts_range(int16_t* w, const int32_t* x, const int8_t* sign, size_t size, int32_t limit, StepStats& s);
void apply_counts_range(int16_t* w, const int32_t* x, const int64_t* g, size_t size, int32_t limit, StepStats& s);

// apply_counts_range with all counts 0: w clamped (read, and written only
// where it lies outside the limit), added to s.
void clamp_range(int16_t* w, size_t size, int32_t limit, StepStats& s);

}  // namespace zimt::optim
