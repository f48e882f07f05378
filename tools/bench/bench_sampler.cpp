// Throughput of the ZIM sampler (zim.hpp): one full draw of n = d trials,
// gradient scaling included (BM_zim_sample), and of a whole ZIM step on a
// ParamSet (BM_zim_step), at the CNN's d = 421,642 and ResNet-18's 11.2 M,
// on 1 and 2 threads, and the Philox words the draws read (BM_philox_run:
// one core, every path the CPU runs). Run: build-*/tools/bench/bench_sampler
//   BM_zim_sample args: d, threads, gradient regime
//     0 = steady state of the authors' rule (7 % nonzero, ||g||_1 ~ 0.5:
//         almost every trial takes the uniform part of its block)
//     1 = first step (every entry nonzero, ||g||_1 ~ 1,200: most blocks
//         build their magnitude search table)
//     2 = zero-inflated rule, alpha = n / ||g||_1 / 2 (half the trials land
//         in the zero category, the rest search the block's magnitudes)
//     3 = zero-inflated rule, alpha = n / ||g||_1 / 100 (99 % of the trials
//         land in the zero category, as in training: the shipped configs'
//         steps put 97-100 % there)
#include "sampler_gradient.hpp"
#include "zimt/optim/philox_batch.hpp"
#include "zimt/optim/zim.hpp"
#include "zimt/optim/zim_optimizer.hpp"

#include <benchmark/benchmark.h>
#include <tbb/global_control.h>

#include <cmath>
#include <cstdint>
#include <vector>

namespace {

using namespace zimt;
using namespace zimt::optim;

using bench::make_gradient;

void BM_zim_sample(benchmark::State& state) {
  const int64_t d = state.range(0);
  tbb::global_control threads(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(state.range(1)));
  const int regime = static_cast<int>(state.range(2));
  std::vector<int64_t> g = make_gradient(d, regime);
  int64_t g_exp = -40;
  if (regime == 0) g_exp = -50;  // ||g||_1 ~ 0.5 over 7 % of the entries
  if (regime == 1) g_exp = -36;  // ||g||_1 ~ thousands
  ZimRuleParams rule{ZimRule::authors, d, q32_one, q32_one};
  if (regime >= 2) {
    // Probe ||g||_1 with alpha = 1, then set alpha = n / (share ||g||_1):
    // a share 1 / share of the trials outside the zero category.
    const double share = regime == 2 ? 2 : 100;
    rule.rule = ZimRule::zero_inflated;
    rule.n = 0;
    ZimWorkspace probe;
    std::vector<int32_t> unused(static_cast<size_t>(d));
    zim_sample(g, g_exp, rule, {}, unused, probe);
    const double g_l1 =
        std::ldexp(static_cast<double>(probe.scaled.magnitude_sum), static_cast<int>(probe.scaled.scale_exp));
    rule.n = d;
    rule.alpha = static_cast<q32>(std::ldexp(static_cast<double>(d) / (share * g_l1), 32));
  }
  ZimWorkspace ws;
  std::vector<int32_t> counts(static_cast<size_t>(d));
  uint64_t step = 0;
  // One untimed draw first: it sizes the workspace (first-touch page faults
  // of ~100 MB at d = 11.2 M), which a training run pays once.
  zim_sample(g, g_exp, rule, {1, step++, 0, Stream::sample}, counts, ws);
  for (auto _ : state) {
    zim_sample(g, g_exp, rule, {1, step++, 0, Stream::sample}, counts, ws);
    benchmark::DoNotOptimize(counts.data());
  }
  state.counters["trials/s"] =
      benchmark::Counter(static_cast<double>(rule.n), benchmark::Counter::kIsIterationInvariantRate);
}

// A whole ZIM step on a ParamSet (scale, sample, apply with saturation and
// counters), n = d, steady-state gradients (regime 0): rule 0 = the
// authors', 1 = zero-inflated with alpha = 100 (bench_model_step's; about
// 50 trials land outside the zero category, as a few dozen do in training).
void BM_zim_step(benchmark::State& state) {
  const int64_t d = state.range(0);
  tbb::global_control threads(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(state.range(1)));
  ParamSet p;
  p.add("w", {d}, ParamKind::weight);
  p.g = make_gradient(d, 0);
  p.tensors[0].g_exp = -50;
  ZimParams params;
  if (state.range(2) == 1) {
    params.rule = ZimRule::zero_inflated;
    params.alpha = 100 * q32_one;
  }
  ZimOptimizer opt(params);
  uint64_t step = 0;
  opt.step(p, 1, step++);  // untimed: sizes the workspace, as in BM_zim_sample
  for (auto _ : state) benchmark::DoNotOptimize(opt.step(p, 1, step++));
  state.counters["trials/s"] =
      benchmark::Counter(static_cast<double>(d), benchmark::Counter::kIsIterationInvariantRate);
}

// Runs of 64 Philox blocks (128 words) on path 0 scalar, 1 AVX2, 2 AVX-512.
void BM_philox_run(benchmark::State& state) {
  const auto path = static_cast<PhiloxPath>(state.range(0));
  if (!philox_path_supported(path)) {
    state.SkipWithError("path not supported by this CPU");
    return;
  }
  PhiloxRunWords words;
  uint64_t first = 0;
  for (auto _ : state) {
    philox_run_on(path, 7, Stream::sample, 3, first, words);
    benchmark::DoNotOptimize(words);
    first += philox_run_blocks;
  }
  state.counters["words/s"] =
      benchmark::Counter(2.0 * philox_run_blocks, benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

BENCHMARK(BM_philox_run)->DenseRange(0, 2)->ArgName("path");

BENCHMARK(BM_zim_step)
    ->ArgsProduct({{421642, 11200000}, {1, 2}, {0, 1}})
    ->ArgNames({"d", "threads", "rule"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

BENCHMARK(BM_zim_sample)
    ->ArgsProduct({{20000, 421642, 11200000}, {1, 2}, {0, 1, 2, 3}})
    ->ArgNames({"d", "threads", "regime"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

BENCHMARK_MAIN();
