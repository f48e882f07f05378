// The ZIM draw split over MPI processes (include/zimt/optim/sharded_draw.hpp)
// against the whole draw on every process: per process, the time of one
// draw of n = d trials done whole (the redundant draw) and split over the
// job's processes (its share of both stages plus the exchange of the counts),
// alternated in one run, the part of either that every process does whole
// (scaling the gradients: a draw of no trials), and the bytes each process
// receives per draw. Times are the minimum over the draws of wall time and
// of the process's CPU time (all its threads): on a machine shared with
// other work the CPU time is what a draw costs, but it also counts the time
// a process spins in MPI waiting for the others.
// Gradients as bench_sampler's regimes 0 (authors' rule, steady state) and 2
// (zero-inflated rule, half the trials in the zero category).
// Run: mpirun -np N build/tools/bench/bench_sharded_draw [threads [draws [d...]]]
// (arguments default to 1 thread per process, 5 timed draws, d = 421,642 and 11.2 M)
#include "sampler_gradient.hpp"
#include "zimt/dist/mpi_group.hpp"
#include "zimt/optim/zim.hpp"

#include <tbb/global_control.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <numeric>
#include <string>
#include <vector>

namespace {

using namespace zimt;
using namespace zimt::optim;

using bench::make_gradient;

// Wall and CPU time now, in ms.
struct Clock {
  double wall;
  double cpu;
};
Clock now() {
  timespec cpu{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
  return {std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count(),
          1e3 * static_cast<double>(cpu.tv_sec) + 1e-6 * static_cast<double>(cpu.tv_nsec)};
}

// The minimum of each clock's durations.
struct Fastest {
  Clock best{1e300, 1e300};
  void add(const Clock& from, const Clock& to) {
    best.wall = std::min(best.wall, to.wall - from.wall);
    best.cpu = std::min(best.cpu, to.cpu - from.cpu);
  }
};

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
      Fastest whole_ms, split_ms, scale_ms;
      ZimRuleParams no_trials = rule;
      no_trials.n = 0;
      for (int k = 0; k <= draws; ++k) {  // draw 0 sizes the workspaces, untimed
        const SampleKey key{1, static_cast<uint64_t>(k), 0, Stream::sample};
        group.barrier();
        const Clock t0 = now();
        zim_sample(g, g_exp, rule, key, whole, whole_ws);
        const Clock t1 = now();
        group.barrier();
        const Clock t2 = now();
        zim_sample(g, g_exp, rule, key, split, split_ws, processes);
        const Clock t3 = now();
        if (whole != split) {
          std::fprintf(stderr, "rank %d: the split draw differs from the whole one\n", group.rank());
          group.abort(1);
        }
        const Clock t4 = now();
        zim_sample(g, g_exp, no_trials, key, whole, whole_ws);
        const Clock t5 = now();
        if (k > 0) {
          whole_ms.add(t0, t1);
          split_ms.add(t2, t3);
          scale_ms.add(t4, t5);
        }
      }
      const auto sent = split_ws.sampler.shares().word_counts();
      const int64_t words = std::accumulate(sent.begin(), sent.end(), int64_t{0});
      const int64_t nonzero = std::count_if(split.begin(), split.end(), [](int32_t x) { return x != 0; });
      const int64_t received = 4 * (words - (sent.empty() ? 0 : sent[static_cast<size_t>(group.rank())]));
      const auto blocks = static_cast<long long>((d + category_block - 1) / category_block);
      std::printf(
          "d %lld regime %d rank %d: ms wall/cpu whole %.1f/%.1f, split %.1f/%.1f, scaling alone %.1f/%.1f; "
          "counts %.1f %% nonzero, %lld bytes of them received, and %lld int64 N_b all-reduced\n",
          static_cast<long long>(d), regime, group.rank(), whole_ms.best.wall, whole_ms.best.cpu, split_ms.best.wall,
          split_ms.best.cpu, scale_ms.best.wall, scale_ms.best.cpu,
          100.0 * static_cast<double>(nonzero) / static_cast<double>(d), static_cast<long long>(received), blocks);
      std::fflush(stdout);
    }
  return 0;
}
