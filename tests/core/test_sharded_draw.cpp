// The ZIM draw split over several processes (zimt/optim/sharded_draw.hpp):
// processes simulated by threads sharing one group must each end with the
// counts, and the ZIM step with the weights, of the draw in one process:
// the authors' and the zero-inflated rule, global and per-tensor scope, 2, 3
// and 5 processes, shares with no trial and runs of blocks sent whole, as
// pairs or mixed.
#include "record_blocks.hpp"
#include "zimt/optim/optimizer.hpp"
#include "zimt/optim/sharded_draw.hpp"
#include "zimt/optim/zim.hpp"
#include "zimt/rng.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <barrier>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <thread>
#include <vector>

using namespace zimt;
using namespace zimt::optim;

namespace {

// Processes as threads: every collective waits for all, reads every
// process's buffer, and waits again before any buffer changes.
struct ThreadGroup {
  explicit ThreadGroup(int size) : size(size), sync(size), sums(static_cast<size_t>(size)), parts(sums.size()) {}
  int size;
  std::barrier<> sync;
  std::vector<int64_t*> sums;
  std::vector<int32_t*> parts;
};

class ThreadProcess final : public BatchReducer {
 public:
  ThreadProcess(ThreadGroup& group, int rank) : group_(group), rank_(rank) {}
  BatchExtent combine(const BatchExtent& local) const override {
    int64_t mine[3] = {local.samples, local.min_exp, local.max_exp};
    group_.sums[static_cast<size_t>(rank_)] = mine;
    group_.sync.arrive_and_wait();
    BatchExtent whole;
    for (const int64_t* other : group_.sums) {
      whole.samples += other[0];
      whole.min_exp = std::min(whole.min_exp, static_cast<int32_t>(other[1]));
      whole.max_exp = std::max(whole.max_exp, static_cast<int32_t>(other[2]));
    }
    group_.sync.arrive_and_wait();
    return whole;
  }
  void sum(int64_t* values, int64_t count) const override {
    group_.sums[static_cast<size_t>(rank_)] = values;
    group_.sync.arrive_and_wait();
    std::vector<int64_t> total(static_cast<size_t>(count), 0);
    for (const int64_t* other : group_.sums)
      for (int64_t i = 0; i < count; ++i) total[static_cast<size_t>(i)] += other[i];
    group_.sync.arrive_and_wait();
    std::copy(total.begin(), total.end(), values);
  }
  int rank() const override { return rank_; }
  int size() const override { return group_.size; }
  void gather(int32_t* values, std::span<const int64_t> ends) const override {
    REQUIRE(ends.size() == static_cast<size_t>(group_.size));
    group_.parts[static_cast<size_t>(rank_)] = values;
    group_.sync.arrive_and_wait();
    for (int p = 0; p < group_.size; ++p) {
      const int64_t begin = p == 0 ? 0 : ends[static_cast<size_t>(p) - 1];
      if (p != rank_)
        std::copy(group_.parts[static_cast<size_t>(p)] + begin,
                  group_.parts[static_cast<size_t>(p)] + ends[static_cast<size_t>(p)], values + begin);
    }
    group_.sync.arrive_and_wait();
  }

 private:
  ThreadGroup& group_;
  int rank_;
};

// run(process) on `size` threads, each a process of one group.
void on_processes(int size, const std::function<void(const BatchReducer&, int)>& run) {
  ThreadGroup group(size);
  std::vector<ThreadProcess> processes;
  for (int r = 0; r < size; ++r) processes.emplace_back(group, r);
  std::vector<std::thread> threads;
  for (int r = 0; r < size; ++r) threads.emplace_back([&, r] { run(processes[static_cast<size_t>(r)], r); });
  for (auto& t : threads) t.join();
}

std::vector<int64_t> gradient(size_t d, size_t nonzero_below, uint64_t seed) {
  std::vector<int64_t> g(d, 0);
  for (size_t i = 0; i < nonzero_below; ++i) {
    const Block b = philox(seed, Stream::test_data, 0, i);
    g[i] = (b[0] % 3 == 0) ? 0 : static_cast<int64_t>(b[1] % 2001) - 1000;
  }
  return g;
}

// Every process of 2, 3 and 5 must draw the single-process counts.
void check_split_draw(const std::vector<int64_t>& g, const ZimRuleParams& rule) {
  const SampleKey key{11, 4, 0, Stream::sample};
  std::vector<int32_t> alone(g.size());
  ZimWorkspace ws;
  zim_sample(g, -8, rule, key, alone, ws);
  REQUIRE(std::any_of(alone.begin(), alone.end(), [](int32_t x) { return x != 0; }));
  const std::vector<uint32_t> drew(ws.sampler.block_trials().begin(), ws.sampler.block_trials().end());
  const GradientSlice slice{g.data(), g.size(), -8};
  for (int size : {2, 3, 5}) {
    CAPTURE(size);
    std::vector<std::vector<int32_t>> counts(static_cast<size_t>(size), std::vector<int32_t>(g.size(), -7));
    on_processes(size, [&](const BatchReducer& group, int rank) {
      ZimWorkspace mine;
      zim_sample(g, -8, rule, key, counts[static_cast<size_t>(rank)], mine, group);
    });
    for (int r = 0; r < size; ++r) CHECK(counts[static_cast<size_t>(r)] == alone);
    // Handed to a sink: every process receives every block once, without
    // counts where the block drew no trial.
    std::vector<test::RecordBlocks> sinks(static_cast<size_t>(size), test::RecordBlocks(g.size()));
    on_processes(size, [&](const BatchReducer& group, int rank) {
      ZimWorkspace mine;
      zim_sample(std::span<const GradientSlice>(&slice, 1), rule, key, sinks[static_cast<size_t>(rank)], mine, group);
    });
    for (const test::RecordBlocks& sink : sinks) {
      CHECK(sink.counts == alone);
      for (size_t b = 0; b < drew.size(); ++b) {
        CHECK(sink.calls[b] == 1);
        CHECK(sink.without[b] == (drew[b] == 0));
        CHECK(sink.misplaced[b] == 0);
      }
    }
  }
}

}  // namespace

TEST_CASE("process_share: consecutive shares of sizes differing by at most one") {
  CHECK(process_share(10, 0, 3).begin == 0);
  CHECK(process_share(10, 0, 3).end == 3);
  CHECK(process_share(10, 1, 3).end == 6);
  CHECK(process_share(10, 2, 3).end == 10);
  CHECK(process_share(2, 0, 3).end == 0);  // fewer items than processes: empty shares
  CHECK(process_share(7, 0, 1).end == 7);
}

TEST_CASE("encode sends counts whole when at least half are nonzero, else (offset, count) pairs; decode inverts") {
  std::vector<int32_t> words;
  const std::vector<int32_t> dense{1, 0, 2, 3};
  DrawShares::encode(dense, words);
  CHECK(words == dense);
  const std::vector<int32_t> sparse{0, 0, 5, 0, 0, 1, 0};
  DrawShares::encode(sparse, words);
  CHECK(words == std::vector<int32_t>{2, 5, 5, 1});
  std::vector<int32_t> back(sparse.size(), 9);
  DrawShares::decode(words, back);
  CHECK(back == sparse);
  const std::vector<int32_t> none(5, 0);
  DrawShares::encode(none, words);
  CHECK(words.empty());
  DrawShares::decode(words, back = std::vector<int32_t>(5, 9));
  CHECK(back == none);
  CHECK_THROWS_AS(DrawShares::decode(std::vector<int32_t>{1, 2, 3}, back), std::invalid_argument);
}

TEST_CASE("encode and decode with drawn blocks: blocks that drew no trial are neither sent nor written") {
  // Three blocks, the last short; the middle one drew no trial and holds
  // another draw's counts.
  const size_t size = 2 * category_block + 5;
  std::vector<int32_t> counts(size, 0);
  counts[3] = 2;
  counts[category_block + 1] = 7;  // left from an earlier draw
  counts[size - 1] = 4;
  const std::vector<uint32_t> drew{2, 0, 4};
  std::vector<int32_t> words;
  DrawShares::encode(counts, words, drew);
  CHECK(words == std::vector<int32_t>{3, 2, static_cast<int32_t>(size - 1), 4});
  std::vector<int32_t> back(size, 9);
  DrawShares::decode(words, back, drew);
  for (size_t i = 0; i < size; ++i) {
    CAPTURE(i);
    const bool drawn = i < category_block || i >= 2 * category_block;
    CHECK(back[i] == (drawn ? counts[i] : 9));
  }
  // Mostly nonzero where drawn: sent whole, the other block as it is.
  std::fill(counts.begin(), counts.begin() + category_block, 1);
  std::fill(counts.begin() + 2 * category_block, counts.end(), 1);
  DrawShares::encode(counts, words, drew);
  CHECK(words == counts);
}

TEST_CASE("authors' rule, n = d: every process of a split draw holds the single-process counts") {
  // 3 blocks, the last short; about 63 % of the counts nonzero: runs sent whole.
  const std::vector<int64_t> g = gradient(3 * category_block - 100, 3 * category_block - 100, 1);
  check_split_draw(g, {ZimRule::authors, static_cast<int64_t>(g.size()), q32_one, q32_one});
}

TEST_CASE("authors' rule without smoothing, gradient in the first blocks only: runs sent whole and as pairs") {
  const std::vector<int64_t> g = gradient(5 * category_block, 2 * category_block, 2);
  check_split_draw(g, {ZimRule::authors, 3 * static_cast<int64_t>(category_block), 0, q32_one});
}

TEST_CASE("zero-inflated rule: most trials in the zero category, runs sent as pairs") {
  const std::vector<int64_t> g = gradient(4 * category_block + 17, 4 * category_block + 17, 3);
  check_split_draw(g, {ZimRule::zero_inflated, static_cast<int64_t>(g.size()), q32_one, q32_one / 64});
}

TEST_CASE("zero-inflated rule, zero category of 1 - 2^-9 or more: trials by runs, whole runs per process") {
  // n = 20 d: alpha ||g||_1 ~ 530 of 330,000 trials outside the zero category,
  // so that a run drawn by two processes, or by none, changes the counts.
  const std::vector<int64_t> g = gradient(4 * category_block + 17, 4 * category_block + 17, 5);
  const int64_t n = 20 * static_cast<int64_t>(g.size());
  int64_t l1 = 0;  // ||g||_1 in units of 2^-8 (check_split_draw's exponent)
  for (int64_t x : g) l1 += std::abs(x);
  CHECK(l1 / 40 <= (n << 8) / 512);  // alpha ||g||_1 <= n 2^-9: the case exercises what it names
  check_split_draw(g, {ZimRule::zero_inflated, n, q32_one, q32_one / 40});
}

TEST_CASE("fewer trials than processes: shares without a trial") {
  const std::vector<int64_t> g = gradient(2 * category_block, 2 * category_block, 4);
  check_split_draw(g, {ZimRule::authors, 2, q32_one, q32_one});
}

TEST_CASE("ZIM steps, global and per-tensor scope, split over 2 and 3 processes give the single-process weights") {
  for (const Scope scope : {Scope::global, Scope::per_tensor})
    for (const ZimRule rule : {ZimRule::authors, ZimRule::zero_inflated}) {
      CAPTURE(static_cast<int>(scope));
      CAPTURE(static_cast<int>(rule));
      ParamSet p;
      p.storage = WeightStorage::int16;
      p.add("conv.weight", {8, 3, 3, 3}, ParamKind::weight);
      p.add("fc.weight", {10, 1000}, ParamKind::weight);
      p.add("fc.bias", {10}, ParamKind::bias);
      p.g = gradient(p.size(), p.size(), 5);
      for (auto& t : p.tensors) t.g_exp = -6;
      OptimizerParams params;
      params.zim.rule = rule;
      params.zim.scope = scope;
      params.zim.alpha = q32_one / 64;
      Optimizer alone_opt(params);
      ParamSet alone = p;
      StepStats alone_stats;
      for (uint64_t step = 0; step < 3; ++step) alone_stats = alone_opt.step(alone, 21, step);
      for (int size : {2, 3}) {
        CAPTURE(size);
        std::vector<ParamSet> sets(static_cast<size_t>(size), p);
        std::vector<StepStats> stats(sets.size());
        on_processes(size, [&](const BatchReducer& group, int rank) {
          Optimizer opt(params);
          for (uint64_t step = 0; step < 3; ++step)
            stats[static_cast<size_t>(rank)] = opt.step(sets[static_cast<size_t>(rank)], 21, step, group);
        });
        for (int r = 0; r < size; ++r) {
          CHECK(sets[static_cast<size_t>(r)].w == alone.w);
          CHECK(stats[static_cast<size_t>(r)].trials == alone_stats.trials);
          CHECK(stats[static_cast<size_t>(r)].changed == alone_stats.changed);
        }
      }
    }
}

TEST_CASE("ZIM steps whose drawing blocks move between steps: counts of an earlier step are never applied") {
  // The optimizer's sampler leaves the counts of blocks that draw no trial
  // as they were (skip_empty_blocks); each step here puts the gradient, and
  // so the trials, in other blocks than the step before. A fresh optimizer
  // per step (no counts from earlier steps) is the reference; alone and
  // split over 2 and 3 processes, global and per-tensor scope.
  // Every entry's gradient is nonzero, so a count left over would move its
  // weight; outside the step's active entries it is 1, about 2^-20 of the
  // active ones, so those blocks draw no trial.
  const size_t d = 5 * category_block + 9;
  auto step_gradient = [&](uint64_t step) {
    std::vector<int64_t> g(d);
    for (size_t i = 0; i < d; ++i) g[i] = i % 2 == 0 ? 1 : -1;
    const size_t first = (step % 3) * 2 * category_block, end = std::min(d, first + category_block + 100);
    const std::vector<int64_t> part = gradient(end - first, end - first, 30 + step);
    for (size_t i = first; i < end; ++i) g[i] = part[i - first] * 1024;
    return g;
  };
  for (const Scope scope : {Scope::global, Scope::per_tensor}) {
    CAPTURE(static_cast<int>(scope));
    ParamSet start;
    start.storage = WeightStorage::int16;
    start.add("a.weight", {3 * category_block}, ParamKind::weight);
    start.add("b.weight", {2 * category_block + 9}, ParamKind::weight);
    for (auto& t : start.tensors) t.g_exp = -20;
    OptimizerParams params;
    params.zim.rule = ZimRule::zero_inflated;
    params.zim.scope = scope;
    params.zim.alpha = q32_one / 4;
    ParamSet reference = start;
    std::vector<StepStats> reference_stats;
    for (uint64_t step = 0; step < 4; ++step) {
      reference.g = step_gradient(step);
      Optimizer fresh(params);
      reference_stats.push_back(fresh.step(reference, 8, step));
    }
    REQUIRE(reference.w != start.w);
    for (int size : {1, 2, 3}) {
      CAPTURE(size);
      std::vector<ParamSet> sets(static_cast<size_t>(size), start);
      std::vector<std::vector<StepStats>> stats(sets.size());
      on_processes(size, [&](const BatchReducer& group, int rank) {
        Optimizer opt(params);
        ParamSet& p = sets[static_cast<size_t>(rank)];
        for (uint64_t step = 0; step < 4; ++step) {
          p.g = step_gradient(step);
          stats[static_cast<size_t>(rank)].push_back(opt.step(p, 8, step, group));
        }
      });
      for (int r = 0; r < size; ++r) {
        CHECK(sets[static_cast<size_t>(r)].w == reference.w);
        for (uint64_t step = 0; step < 4; ++step) {
          CHECK(stats[static_cast<size_t>(r)][step].changed == reference_stats[step].changed);
          CHECK(stats[static_cast<size_t>(r)][step].u_l1 == reference_stats[step].u_l1);
          CHECK(stats[static_cast<size_t>(r)][step].max_abs_w == reference_stats[step].max_abs_w);
        }
      }
    }
  }
}
