// The ZIM draw split over MPI processes (include/zimt/optim/sharded_draw.hpp)
// against the whole draw on every process: per process, the time of one
// draw of n = d trials done whole (the redundant draw) and split over the
// job's processes (its share of both stages plus the exchange of the counts),
// alternated in one run, the part of either that every process does whole
// (scaling the gradients: a draw of no trials), and the bytes each process
// receives per draw.
// Gradients as bench_sampler's regimes 0 (authors' rule, steady state) and 2
// (zero-inflated rule, half the trials in the zero category).
// Run: mpirun -np N build/tools/bench/bench_sharded_draw [threads [draws [d...]]]
// (arguments default to 1 thread per process, 5 timed draws, d = 421,642 and 11.2 M)
#include "zimt/dist/mpi_group.hpp"
#include "zimt/optim/zim.hpp"

#include <tbb/global_control.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <string>
#include <vector>

namespace {

using namespace zimt;
using namespace zimt::optim;

// bench_sampler's gradient: regime 0 has 7 % nonzero entries, regime 2 all.
std::vector<int64_t> make_gradient(int64_t d, int regime) {
  std::vector<int64_t> g(static_cast<size_t>(d));
  for (int64_t i = 0; i < d; ++i) {
    const Block b = philox(7, Stream::test_data, 0, static_cast<uint64_t>(i));
    const bool nonzero = regime != 0 || b[0] % 100 < 7;
    const int64_t mag = static_cast<int64_t>(b[1] >> (2 + b[2] % 4));
    g[static_cast<size_t>(i)] = nonzero ? ((b[3] & 1) ? mag : -mag) : 0;
  }
  return g;
}

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

int main(int argc, char** argv) {
  dist::MpiGroup group;
  const BatchReducer& processes = group.reducer();
  const int threads = argc > 1 ? std::atoi(argv[1]) : 1;
  const int draws = argc > 2 ? std::atoi(argv[2]) : 5;
  std::vector<int64_t> sizes;
  for (int a = 3; a < argc; ++a) sizes.push_back(std::atoll(argv[a]));
  if (sizes.empty()) sizes = {421642, 11200000};
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(threads));
  if (group.rank() == 0)
    std::printf("processes %d, threads each %d, draws %d; per process: ms per draw (min over draws), bytes received\n",
                group.size(), threads, draws);
  for (const int64_t d : sizes)
    for (const int regime : {0, 2}) {
      const std::vector<int64_t> g = make_gradient(d, regime);
      ZimRuleParams rule{ZimRule::authors, d, q32_one, q32_one};
      const int64_t g_exp = regime == 0 ? -50 : -40;
      if (regime == 2) {  // alpha = n / (2 ||g||_1): half the trials in the zero category
        rule.rule = ZimRule::zero_inflated;
        double l1 = 0;
        for (const int64_t x : g) l1 += std::ldexp(std::fabs(static_cast<double>(x)), static_cast<int>(g_exp));
        rule.alpha = static_cast<q32>(std::ldexp(static_cast<double>(d) / (2 * l1), 32));
      }
      ZimWorkspace whole_ws, split_ws;
      std::vector<int32_t> whole(static_cast<size_t>(d)), split(static_cast<size_t>(d));
      double whole_ms = 1e300, split_ms = 1e300, scale_ms = 1e300;
      ZimRuleParams no_trials = rule;
      no_trials.n = 0;
      for (int k = 0; k <= draws; ++k) {  // draw 0 sizes the workspaces, untimed
        const SampleKey key{1, static_cast<uint64_t>(k), 0, Stream::sample};
        group.barrier();
        const double t0 = now_ms();
        zim_sample(g, g_exp, rule, key, whole, whole_ws);
        const double t1 = now_ms();
        group.barrier();
        const double t2 = now_ms();
        zim_sample(g, g_exp, rule, key, split, split_ws, processes);
        const double t3 = now_ms();
        if (whole != split) {
          std::fprintf(stderr, "rank %d: the split draw differs from the whole one\n", group.rank());
          group.abort(1);
        }
        const double t4 = now_ms();
        zim_sample(g, g_exp, no_trials, key, whole, whole_ws);
        const double t5 = now_ms();
        if (k > 0) {
          whole_ms = std::min(whole_ms, t1 - t0);
          split_ms = std::min(split_ms, t3 - t2);
          scale_ms = std::min(scale_ms, t5 - t4);
        }
      }
      const auto sent = split_ws.sampler.shares().word_counts();
      const int64_t words = std::accumulate(sent.begin(), sent.end(), int64_t{0});
      const int64_t nonzero = std::count_if(split.begin(), split.end(), [](int32_t x) { return x != 0; });
      const int64_t received = 4 * (words - (sent.empty() ? 0 : sent[static_cast<size_t>(group.rank())]));
      const auto blocks = static_cast<long long>((d + category_block - 1) / category_block);
      std::printf(
          "d %lld regime %d rank %d: whole %.1f ms, split %.1f ms, scaling alone %.1f ms; counts %.1f %% nonzero, "
          "%lld bytes of them received, and %lld int64 N_b all-reduced\n",
          static_cast<long long>(d), regime, group.rank(), whole_ms, split_ms, scale_ms, 100.0 * static_cast<double>(nonzero) / static_cast<double>(d),
          static_cast<long long>(received), blocks);
      std::fflush(stdout);
    }
  return 0;
}
