// Optimizer steps on a ParamSet: ZIM (global / per-tensor), integer SGD,
// sign-SGD; saturation and the per-step counters; schedules and Q32.32.
#include "zimt/numerics.hpp"
#include "zimt/optim/optimizer.hpp"
#include "zimt/rng.hpp"

#include <doctest/doctest.h>
#include <tbb/global_control.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <vector>

using namespace zimt;
using namespace zimt::optim;

namespace {

// Two tensors, gradients with a pattern of signs and exact zeros.
ParamSet small_params(WeightStorage storage = WeightStorage::int8) {
  ParamSet p;
  p.storage = storage;
  p.add("fc.weight", {30, 20}, ParamKind::weight);
  p.add("fc.bias", {30}, ParamKind::bias);
  for (size_t i = 0; i < p.size(); ++i) p.g[i] = (i % 5 == 0) ? 0 : static_cast<int64_t>((i * 37) % 23) - 11;
  p.tensors[0].g_exp = -10;
  p.tensors[1].g_exp = -3;
  return p;
}

int sign_of(int64_t x) { return (x > 0) - (x < 0); }

}  // namespace

TEST_CASE("Q32.32 helpers round half to even and saturate") {
  CHECK(scale_count(10, q32_one / 4) == 2);  // 2.5 -> 2
  CHECK(scale_count(14, q32_one / 4) == 4);  // 3.5 -> 4
  CHECK(scale_count(421642, q32_one) == 421642);
  CHECK(scale_count(INT64_MAX, q32_one * 4) == INT64_MAX);
  CHECK(q32_mul(q32_one / 2, q32_one / 2) == q32_one / 4);
  CHECK(q32_mul(-q32_one * 3, q32_one / 2) == -(q32_one * 3 / 2));
  CHECK(q32_mul(INT64_MAX, INT64_MAX) == INT64_MAX);
}

TEST_CASE("schedules: constant, step, cosine in fixed point") {
  Schedule s;
  CHECK(schedule_factor(s, 12345) == q32_one);
  s.kind = ScheduleKind::step;
  s.every = 10;
  s.gamma = q32_one / 2;
  CHECK(schedule_factor(s, 9) == q32_one);
  CHECK(schedule_factor(s, 10) == q32_one / 2);
  CHECK(schedule_factor(s, 35) == q32_one / 8);
  s.kind = ScheduleKind::cosine;
  s.total_steps = 1000;
  s.final = q32_one / 10;
  CHECK(schedule_factor(s, 0) == q32_one);
  CHECK(schedule_factor(s, 1000) == s.final);
  CHECK(schedule_factor(s, 5000) == schedule_factor(s, 1000));
  for (uint64_t step : {1u, 250u, 500u, 777u, 999u}) {
    const double expected = 0.1 + 0.9 * (1 + std::cos(M_PI * double(step) / 1000)) / 2;
    CHECK(std::fabs(std::ldexp(double(schedule_factor(s, step)), -32) - expected) < 1e-9);
  }
  // cos(pi x) itself, across the whole half period, to 2^-31.
  for (uint64_t num = 0; num <= 360; ++num)
    CHECK(std::fabs(std::ldexp(double(cos_pi_fraction(num, 360)), -32) - std::cos(M_PI * double(num) / 360)) <
          std::ldexp(1.0, -31));
}

TEST_CASE("ZIM step: w <- w - X sign(g), exact zeros never move, counters match") {
  ParamSet p = small_params(WeightStorage::int16);
  const std::vector<int16_t> before = p.w;
  ZimOptimizer opt({});  // authors, global, n = d, c = 1
  const StepStats s = opt.step(p, 7, 0);
  CHECK(s.trials == static_cast<int64_t>(p.size()));
  int64_t changed = 0, l1 = 0, max_abs = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    const int64_t u = before[i] - p.w[i];
    if (p.g[i] == 0) CHECK(u == 0);
    CHECK(sign_of(u) * sign_of(p.g[i]) >= 0);  // against the gradient's sign
    changed += u != 0;
    l1 += std::abs(u);
    max_abs = std::max<int64_t>(max_abs, std::abs(p.w[i]));
  }
  CHECK(s.changed == changed);
  CHECK(s.u_l1 == l1);
  CHECK(s.max_abs_w == max_abs);
  CHECK(s.saturated == 0);
  CHECK(!s.fallback);
  // n = d trials, 80 % of them on nonzero gradients: ||U||_1 ~ 0.8 d.
  CHECK(l1 > static_cast<int64_t>(p.size()) / 2);
}

TEST_CASE("ZIM step saturates at the storage limit and counts it") {
  ParamSet p = small_params(WeightStorage::int8);
  std::fill(p.w.begin(), p.w.end(), int16_t{-127});
  ZimParams params;
  params.n.is_fraction = false;
  params.n.absolute = 200000;  // ~ 300 trials per parameter
  ZimOptimizer opt(params);
  const StepStats s = opt.step(p, 1, 0);
  int64_t positive_g = 0, negative_g = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    positive_g += p.g[i] > 0;
    negative_g += p.g[i] < 0;
    if (p.g[i] > 0) CHECK(p.w[i] == -127);  // pushed further down: clipped
    if (p.g[i] < 0) CHECK(p.w[i] == 127);   // ~300 units up: clipped at +127
  }
  CHECK(s.saturated == positive_g + negative_g);
  CHECK(s.changed == negative_g);
  CHECK(s.max_abs_w == 127);
}

TEST_CASE("ZIM per-tensor scope splits n in proportion and keys tensors apart") {
  ParamSet p = small_params(WeightStorage::int16);
  ZimParams params;
  params.scope = Scope::per_tensor;
  params.n.fraction = q32_one / 2;  // n = round(0.5 d) = 315: 300 + 15
  ZimOptimizer opt(params);
  const StepStats s = opt.step(p, 3, 0);
  CHECK(s.trials == 315);
  ParamSet q = small_params(WeightStorage::int16);
  ZimParams global_params = params;
  global_params.scope = Scope::global;
  ZimOptimizer global(global_params);
  global.step(q, 3, 0);
  CHECK(p.w != q.w);
}

TEST_CASE("zero-inflated step reports the fallback and applies the schedule to alpha") {
  ParamSet p = small_params();
  ZimParams params;
  params.rule = ZimRule::zero_inflated;
  params.n.is_fraction = false;
  params.n.absolute = 10;
  params.alpha = q32_one * 1000;  // alpha ||g||_1 >> 10
  params.schedule.kind = ScheduleKind::step;
  params.schedule.gamma = q32_one / 1024;
  params.schedule_target = ScheduleTarget::alpha;
  ZimOptimizer opt(params);
  CHECK(opt.step(p, 1, 0).fallback);   // alpha 1000
  CHECK(!opt.step(p, 1, 3).fallback);  // alpha 1000 / 2^30
}

TEST_CASE("a full ZIM step is identical at 1, 2, 4 and 8 threads") {
  auto run = [](int threads) {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(threads));
    ParamSet p;
    p.storage = WeightStorage::int16;
    p.add("a.weight", {200, 300}, ParamKind::weight);
    p.add("a.bias", {200}, ParamKind::bias);
    for (size_t i = 0; i < p.size(); ++i) p.g[i] = (i % 3 == 0) ? 0 : static_cast<int64_t>(i % 101) - 50;
    Optimizer opt(OptimizerParams{});
    StepStats s;
    for (uint64_t step = 0; step < 3; ++step) s = opt.step(p, 42, step);
    return std::make_pair(p.w, s.u_l1);
  };
  const auto one = run(1);
  for (int threads : {2, 4, 8}) CHECK(run(threads) == one);
}

TEST_CASE("integer SGD is unbiased: E[dw] = lr g 2^(g_exp - w_exp)") {
  // One weight per gradient value, R steps from w = 0 each time.
  const std::vector<int64_t> g{3, -7, 1000, -1, 0, 123456};
  const int g_exp = -12, w_exp = -4;
  const q32 lr = q32_one / 10;
  const int R = 4000;
  std::vector<double> sum(g.size()), sum2(g.size());
  ParamSet p;
  p.storage = WeightStorage::int16;
  p.add("w", {static_cast<int64_t>(g.size())}, ParamKind::weight, w_exp);
  p.tensors[0].g_exp = g_exp;
  std::copy(g.begin(), g.end(), p.g.begin());
  for (int r = 0; r < R; ++r) {
    std::fill(p.w.begin(), p.w.end(), int16_t{0});
    int_sgd_step(p, IntSgdParams{lr, Schedule{}}, 5, static_cast<uint64_t>(r));
    for (size_t i = 0; i < g.size(); ++i) {
      sum[i] += -p.w[i];
      sum2[i] += double(p.w[i]) * p.w[i];
    }
  }
  for (size_t i = 0; i < g.size(); ++i) {
    const double x = std::ldexp(0.1 * std::ldexp(1.0, 32) / std::ldexp(1.0, 32) * double(g[i]), g_exp - w_exp);
    const double exact = std::ldexp(double(lr) * double(g[i]), g_exp - w_exp - 32);  // the Q32 lr
    CHECK(std::fabs(exact - x) < 1e-6 * std::fabs(x) + 1e-12);
    // dw is floor(x) or floor(x)+1 with P(up) = frac(x): variance f (1 - f).
    const double f = exact - std::floor(exact);
    const double mean = sum[i] / R;
    if (f == 0) {
      CHECK(mean == exact);
    } else {
      const double se = std::sqrt(f * (1 - f) / R);
      CHECK_MESSAGE(std::fabs(mean - exact) / se < 5, "i=" << i << " mean " << mean << " vs " << exact);
    }
  }
}

TEST_CASE("integer SGD saturates huge updates, sign-SGD takes unit steps") {
  ParamSet p = small_params(WeightStorage::int8);
  p.g[1] = INT64_MAX;
  p.g[2] = INT64_MIN;
  p.tensors[0].g_exp = 40;
  const StepStats s = int_sgd_step(p, IntSgdParams{q32_one, Schedule{}}, 1, 0);
  CHECK(p.w[1] == -127);
  CHECK(p.w[2] == 127);
  CHECK(s.saturated > 0);

  ParamSet q = small_params(WeightStorage::int8);
  const StepStats t = sign_sgd_step(q);
  for (size_t i = 0; i < q.size(); ++i) CHECK(q.w[i] == -sign_of(q.g[i]));
  CHECK(t.u_l1 == t.changed);
  CHECK(t.max_abs_w == 1);
}

TEST_CASE("integer SGD rounds with weight i's word lo64(philox(seed, sgd_round, step, i)), at any thread count") {
  // Three tensors of odd sizes (runs of 16 words start mid-tensor), weights
  // away from the limit; the reference computes each weight on its own.
  ParamSet p;
  p.storage = WeightStorage::int16;
  p.add("a", {37}, ParamKind::weight, -3);
  p.add("b", {5, 41}, ParamKind::weight, -5);
  p.add("c", {3}, ParamKind::bias, -2);
  for (size_t i = 0; i < p.size(); ++i) {
    p.g[i] = (i % 7 == 0) ? 0 : static_cast<int64_t>((i * 2654435761u) % 100000) - 50000;
    p.w[i] = static_cast<int16_t>(static_cast<int>(i % 200) - 100);
  }
  p.tensors[0].g_exp = -14;
  p.tensors[1].g_exp = -20;
  p.tensors[2].g_exp = -9;
  const q32 lr = q32_one / 10 + 12345;
  const uint64_t seed = 77, step = 3;
  std::vector<int16_t> expected(p.w.begin(), p.w.end());
  for (const auto& t : p.tensors)
    for (size_t k = 0; k < t.numel; ++k) {
      const size_t i = t.offset + k;
      const int64_t shift = 32 - (int64_t{t.g_exp} - t.w_exp);
      const u128 m = static_cast<u128>(abs_u64(p.g[i])) * static_cast<uint64_t>(lr);
      const auto mag =
          static_cast<int64_t>(shift_round_stochastic_u128(m, shift, lo64(philox(seed, Stream::sgd_round, step, i))));
      expected[i] = static_cast<int16_t>(
          std::clamp<int64_t>(p.w[i] - (p.g[i] < 0 ? -mag : mag), -weight_limit(p.storage), weight_limit(p.storage)));
    }
  for (int threads : {1, 2, 3}) {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(threads));
    ParamSet q = p;
    int_sgd_step(q, IntSgdParams{lr, Schedule{}}, seed, step);
    CHECK(std::equal(q.w.begin(), q.w.end(), expected.begin()));
  }
}
