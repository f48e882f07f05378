// The ZIM sampler (zim.hpp) against a direct, unoptimised reading of its
// specification: the same random words, a binary search in place of the
// lookup tables and a plain division in place of the divider. Counts must be
// equal entry for entry, for both rules, every gradient regime of the
// benchmark, slices that split category blocks, every Philox path and thread
// count (docs/design.md, Update rules: Sampling).
#include "zimt/numerics.hpp"
#include "zimt/optim/philox_batch.hpp"
#include "zimt/optim/zero_run_odds.hpp"
#include "zimt/optim/zim.hpp"

#include <doctest/doctest.h>
#include <tbb/global_control.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <vector>

using namespace zimt;
using namespace zimt::optim;

namespace {

// The first 64-bit word of a draw (low half for even, high half for odd
// positions of counter base + position / 2), then its own WordStream.
struct ReferenceWords {
  uint64_t seed, step;
  Stream stream;
  uint64_t first_word;
  WordStream extra;
  bool first_used = false;
  uint64_t operator()() {
    if (first_used) return extra();
    first_used = true;
    return first_word;
  }
};

// Draws whose first word Lemire's method rejected, per stage.
struct Rejections {
  uint64_t stage1 = 0, stage2 = 0;
};

uint64_t reference_draw(uint64_t bound, const SampleKey& key, uint64_t counter_base, uint64_t position,
                        uint64_t extra_index, uint64_t& rejected) {
  const Block b = philox(key.seed, key.stream, key.step, counter_base + position / 2);
  ReferenceWords words{key.seed, key.step, key.stream, position % 2 ? hi64(b) : lo64(b),
                       WordStream(key.seed, key.stream, key.step, extra_index)};
  rejected += static_cast<uint64_t>(static_cast<u128>(words.first_word) * bound) < bound;
  return uniform_below(bound, words);
}

// The index i with start[i] <= x < start[i + 1] (start non-decreasing).
size_t reference_find(const std::vector<uint64_t>& start, uint64_t x) {
  return static_cast<size_t>(std::upper_bound(start.begin(), start.end(), x) - start.begin()) - 1;
}

// Stage 1 by runs (zim.hpp) where the zero category holds at least 1 -
// 2^-9 of the weight: the trials [first, first + n) split into the largest
// aligned runs within runs of 2^L (L from n), each drawn from its own words.
struct ReferenceRuns {
  const SampleKey& key;
  ZeroRunOdds odds;
  uint64_t zero_start;
  const std::vector<uint64_t>& start;
  std::vector<uint64_t>& trials;
  std::vector<uint64_t> scratch;

  static uint64_t counter(uint64_t t, int level) {
    const uint64_t node = (uint64_t{1} << (8 - level)) + (t % 256 >> level);
    return (uint64_t{1} << 54) | (node << 45) | (t / 256);
  }
  void draw(uint64_t t, int level, bool known) {
    WordStream words(key.seed, key.stream, key.step, counter(t, level));
    if (!known && odds.all_zero(level).below(words, scratch)) return;
    if (level == 0) {
      ++trials[reference_find(start, uniform_below(zero_start, words))];
      return;
    }
    const uint64_t half = uint64_t{1} << (level - 1);
    if (odds.left_empty(level - 1).below(words, scratch)) return draw(t + half, level - 1, true);
    draw(t, level - 1, true);
    draw(t + half, level - 1, false);
  }
  // The aligned run [t, t + 2^level) as far as it lies within [lo, hi).
  void cover(uint64_t t, int level, uint64_t lo, uint64_t hi) {
    const uint64_t size = uint64_t{1} << level;
    if (t >= hi || t + size <= lo) return;
    if (lo <= t && t + size <= hi) return draw(t, level, false);
    cover(t, level - 1, lo, hi);
    cover(t + size / 2, level - 1, lo, hi);
  }
};

void reference_runs(uint64_t zero, uint64_t total, const std::vector<uint64_t>& start, int64_t n, const SampleKey& key,
                    std::vector<uint64_t>& trials) {
  if (start[start.size() - 2] == 0) return;  // nothing outside the zero category
  int levels = (bit_width_u64(static_cast<uint64_t>(n)) - 1) / 2 - 1;
  levels = std::clamp(levels, 0, 8);
  ReferenceRuns runs{key, {}, start[start.size() - 2], start, trials, {}};
  runs.odds.prepare(zero, total, levels);
  const uint64_t lo = key.first_trial, hi = lo + static_cast<uint64_t>(n);
  for (uint64_t t = lo >> levels << levels; t < hi; t += uint64_t{1} << levels) runs.cover(t, levels, lo, hi);
}

std::vector<int32_t> reference_sample(const CategoryWeights& cat, int64_t n, const SampleKey& key,
                                      Rejections* rejections = nullptr) {
  Rejections unused;
  Rejections& rejected = rejections ? *rejections : unused;
  const size_t d = cat.magnitude.size();
  std::vector<int32_t> counts(d, 0);
  const uint64_t total = cat.smoothing * d + cat.magnitude_sum + cat.zero_weight;
  if (n == 0 || d == 0 || total == 0) return counts;
  const size_t blocks = (d + category_block - 1) / category_block;
  std::vector<uint64_t> start{0};  // blocks, then the zero category
  for (size_t b = 0; b < blocks; ++b) {
    const size_t size = std::min(category_block, d - b * category_block);
    uint64_t m = 0;
    for (size_t i = 0; i < size; ++i) m += cat.magnitude[b * category_block + i];
    start.push_back(start.back() + size * cat.smoothing + m);
  }
  start.push_back(total);
  std::vector<uint64_t> trials(blocks + 1, 0);
  if (cat.zero_weight >= total - (total >> 9)) {
    reference_runs(cat.zero_weight, total, start, n, key, trials);
  } else {
    for (uint64_t j = 0; j < static_cast<uint64_t>(n); ++j) {
      const uint64_t t = key.first_trial + j;
      ++trials[reference_find(start, reference_draw(total, key, 0, t, (uint64_t{1} << 55) | t, rejected.stage1))];
    }
  }
  uint64_t offset = 0;
  for (size_t b = 0; b < blocks; ++b) {
    const size_t begin = b * category_block, size = std::min(category_block, d - begin);
    const uint64_t uniform = size * cat.smoothing;
    std::vector<uint64_t> cumulative{0};
    for (size_t i = 0; i < size; ++i) cumulative.push_back(cumulative.back() + cat.magnitude[begin + i]);
    for (uint64_t k = 0; k < trials[b]; ++k) {
      const uint64_t s = key.first_trial + offset + k;
      const uint64_t v = reference_draw(start[b + 1] - start[b], key, uint64_t{1} << 53, s,
                                        (uint64_t{1} << 55) | (uint64_t{1} << 54) | s, rejected.stage2);
      const size_t i = v < uniform ? static_cast<size_t>(v / cat.smoothing) : reference_find(cumulative, v - uniform);
      ++counts[begin + i];
    }
    offset += trials[b];
  }
  return counts;
}

// The rule's category weights exactly as zim_sample forms them.
std::vector<int32_t> reference_zim(std::span<const GradientSlice> slices, const ZimRuleParams& rule,
                                   const SampleKey& key) {
  ScaledGradient s;
  CategoryWeights cat;
  if (rule.rule == ZimRule::authors) {
    scale_gradients(slices, q32_one, rule.c, s);
    cat = {s.magnitude, s.block_sum, s.magnitude_sum, s.constant, 0};
  } else {
    scale_gradients(slices, rule.alpha, rule.n * q32_one, s);
    const bool fallback = s.magnitude_sum > s.constant;
    cat = {s.magnitude, s.block_sum, s.magnitude_sum, 0, fallback ? 0 : s.constant - s.magnitude_sum};
  }
  return reference_sample(cat, rule.n, key);
}

// The benchmark's gradient regimes (tools/bench/bench_sampler.cpp) at a
// smaller d: 0 = 7 % nonzero, 1 = all nonzero, both with varied magnitudes.
std::vector<int64_t> regime_gradient(size_t d, int regime) {
  std::vector<int64_t> g(d);
  for (size_t i = 0; i < d; ++i) {
    const Block b = philox(7, Stream::test_data, 0, i);
    const bool nonzero = regime != 0 || b[0] % 100 < 7;
    const auto mag = static_cast<int64_t>(b[1] >> (2 + b[2] % 4));
    g[i] = nonzero ? ((b[3] & 1) ? mag : -mag) : 0;
  }
  return g;
}

std::vector<int32_t> sampled(std::span<const GradientSlice> slices, const ZimRuleParams& rule, const SampleKey& key,
                             int threads, PhiloxPath path, ScaledEntries entries) {
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(threads));
  size_t d = 0;
  for (const auto& s : slices) d += s.size;
  ZimWorkspace ws;
  ws.sampler.use_philox_path(path);
  ws.entries = entries;
  std::vector<int32_t> counts(d, -1);
  zim_sample(slices, rule, key, counts, ws);
  return counts;
}

// A MultinomialSampler on every Philox path this CPU supports, at 1, 2 and 3
// threads, draws `expected`.
void check_every_path(const CategoryWeights& cat, int64_t n, const SampleKey& key,
                      const std::vector<int32_t>& expected) {
  for (PhiloxPath path : {PhiloxPath::scalar, PhiloxPath::avx2, PhiloxPath::avx512}) {
    if (!philox_path_supported(path)) continue;
    for (int threads : {1, 2, 3}) {
      tbb::global_control limit(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(threads));
      MultinomialSampler sampler;
      sampler.use_philox_path(path);
      std::vector<int32_t> counts(cat.magnitude.size(), -1);
      sampler.sample(cat, n, key, counts);
      CAPTURE(static_cast<int>(path));
      CAPTURE(threads);
      CHECK(counts == expected);
    }
  }
}

}  // namespace

TEST_CASE("sampler counts equal the reference's on every path and thread count, magnitudes stored or on demand") {
  struct Case {
    size_t d;
    int regime;
    int64_t g_exp;
    ZimRuleParams rule;
    uint64_t first_trial;
  };
  const q32 quarter = q32_one / 4;
  const std::vector<Case> cases{
      {3 * category_block + 17, 0, -50, {ZimRule::authors, 0, q32_one, q32_one}, 0},
      {3 * category_block + 17, 1, -36, {ZimRule::authors, 0, q32_one, q32_one}, 5},
      {2 * category_block, 1, -44, {ZimRule::authors, 0, quarter * 3, q32_one}, 1},
      {3 * category_block + 17, 1, -40, {ZimRule::zero_inflated, 0, q32_one, q32_one * 2800}, 0},
      {3 * category_block + 17, 0, -40, {ZimRule::zero_inflated, 0, q32_one, q32_one * 40000 + 3}, 7},
      {category_block - 1, 1, -40, {ZimRule::zero_inflated, 0, q32_one, q32_one * 100000}, 0},  // fallback
      {100, 1, -40, {ZimRule::authors, 0, 0, q32_one}, 3},                                      // c = 0
  };
  for (const Case& c : cases) {
    const std::vector<int64_t> g = regime_gradient(c.d, c.regime);
    // Three slices, their boundaries inside category blocks, one exponent apart.
    const size_t cut1 = c.d / 3, cut2 = 2 * c.d / 3 + 1;
    const std::vector<GradientSlice> slices{
        {g.data(), cut1, c.g_exp}, {g.data() + cut1, cut2 - cut1, c.g_exp - 1}, {g.data() + cut2, c.d - cut2, c.g_exp}};
    ZimRuleParams rule = c.rule;
    rule.n = static_cast<int64_t>(c.d) + 333;
    const SampleKey key{0x5eedull, 42, c.first_trial, Stream::sample};
    const auto expected = reference_zim(slices, rule, key);
    CHECK(std::accumulate(expected.begin(), expected.end(), int64_t{0}) > 0);
    for (PhiloxPath path : {PhiloxPath::scalar, PhiloxPath::avx2, PhiloxPath::avx512}) {
      if (!philox_path_supported(path)) continue;
      for (int threads : {1, 2, 3})
        for (ScaledEntries entries : {ScaledEntries::stored, ScaledEntries::signs, ScaledEntries::on_demand}) {
          CAPTURE(c.d);
          CAPTURE(c.regime);
          CAPTURE(static_cast<int>(path));
          CAPTURE(threads);
          CAPTURE(static_cast<int>(entries));
          CHECK(sampled(slices, rule, key, threads, path, entries) == expected);
        }
    }
  }
}

TEST_CASE("draws whose first word is rejected go on with their own words, as the reference's") {
  // Totals near 2^54, where Lemire's method rejects about one word in 1,000:
  // three blocks (the last short), smoothing, magnitudes and a zero category.
  const size_t d = 2 * category_block + 5;
  std::vector<uint64_t> magnitude(d);
  std::vector<uint64_t> block_sum((d + category_block - 1) / category_block, 0);
  uint64_t sum = 0;
  for (size_t i = 0; i < d; ++i) {
    magnitude[i] = (uint64_t{1} << 40) + i * 977;
    block_sum[i / category_block] += magnitude[i];
    sum += magnitude[i];
  }
  const CategoryWeights cat{magnitude, block_sum, sum, uint64_t{1} << 39, uint64_t{1} << 52};
  const int64_t n = 40000;
  const SampleKey key{0x5eedull, 7, 3, Stream::sample};
  Rejections rejected;
  const std::vector<int32_t> expected = reference_sample(cat, n, key, &rejected);
  CHECK(rejected.stage1 > 5);  // the case exercises what it names
  CHECK(rejected.stage2 > 5);
  check_every_path(cat, n, key, expected);
}

TEST_CASE("blocks of very different weights, empty ones among them, draw as the reference's") {
  // Empty blocks (every magnitude 0, no smoothing), blocks with one unit of
  // weight and blocks up to 2^30 per entry: stage 1's block table (sampler.cpp,
  // 2^(bit_width(blocks + 1) + 2) entries) then has entries that hold no
  // boundary, one, and several (the forward scan), and boundaries that
  // coincide (empty blocks).
  const size_t blocks = 48, d = blocks * category_block - 100;
  std::vector<uint64_t> magnitude(d, 0);
  std::vector<uint64_t> block_sum(blocks, 0);
  uint64_t sum = 0;
  for (size_t i = 0; i < d; ++i) {
    const size_t b = i / category_block, kind = b % 6;
    if (kind == 0 || (kind == 1 && i % category_block != 0)) continue;  // empty, or one unit
    magnitude[i] = kind == 1 ? 1 : (uint64_t{1} << (6 * kind)) + i % 977;
    block_sum[b] += magnitude[i];
    sum += magnitude[i];
  }
  const uint64_t zero_weight = sum / 3;
  const CategoryWeights cat{magnitude, block_sum, sum, 0, zero_weight};
  // The case exercises what it names: table entries with two or more boundaries.
  const uint64_t total = sum + zero_weight;
  const int shift = std::max(0, bit_width_u64(total - 1) - (bit_width_u64(blocks + 1) + 2));
  std::vector<uint64_t> start{0};
  for (uint64_t s : block_sum) start.push_back(start.back() + s);
  size_t crowded = 0;
  for (size_t b = 1; b + 1 < start.size(); ++b)
    crowded += start[b] != start[b + 1] && (start[b] >> shift) == (start[b + 1] >> shift);
  CHECK(crowded > 3);
  const int64_t n = 70000;
  const SampleKey key{0x5eedull, 9, 11, Stream::sample};
  const std::vector<int32_t> expected = reference_sample(cat, n, key);
  check_every_path(cat, n, key, expected);
}

TEST_CASE("a zero category below the share of runs: the other categories draw as the reference's") {
  // Stage 1 separates the trials in the zero category from the others first
  // (sampler.cpp), at every share below the runs': the categories just below
  // its start (the last block's last entries, one unit of weight each) must
  // keep their trials; a boundary off by one there moves all of one
  // category's.
  const size_t d = 2 * category_block + 5;
  std::vector<uint64_t> magnitude(d, 0);
  for (size_t i : {size_t{0}, category_block - 1, category_block, d - 3, d - 2, d - 1}) magnitude[i] = 1;
  magnitude[category_block + 7] = 5;
  std::vector<uint64_t> block_sum((d + category_block - 1) / category_block, 0);
  uint64_t sum = 0;
  for (size_t i = 0; i < d; ++i) {
    block_sum[i / category_block] += magnitude[i];
    sum += magnitude[i];
  }
  for (uint64_t zero_weight : {uint64_t{1}, sum / 3, sum, 15 * sum, 15 * sum + 1, 200 * sum}) {
    const uint64_t total = sum + zero_weight;
    CAPTURE(zero_weight);
    CHECK(zero_weight < total - (total >> 9));  // below the share of runs
    const CategoryWeights cat{magnitude, block_sum, sum, 0, zero_weight};
    const int64_t n = 300000;
    const SampleKey key{0x5eedull, 5, 2, Stream::sample};
    const std::vector<int32_t> expected = reference_sample(cat, n, key);
    CHECK(expected[d - 1] > 0);
    check_every_path(cat, n, key, expected);
  }
}

TEST_CASE("a zero category of 1 - 2^-9 or more draws by runs: the other categories draw as the reference's") {
  // Stage 1 by runs (zim.hpp): runs of 2^L trials for L = 0, 3, 5 and 8 (from
  // n), cut at both ends of [first_trial, first_trial + n) where those are not
  // aligned; trials outside the zero category in every block, the last
  // categories one unit each just below its start.
  const size_t d = 3 * category_block + 9;
  std::vector<uint64_t> magnitude(d, 0);
  for (size_t i = 0; i < d; i += 97) magnitude[i] = 1 + i % 13;
  for (size_t i = d - 4; i < d; ++i) magnitude[i] = 1;
  std::vector<uint64_t> block_sum((d + category_block - 1) / category_block, 0);
  uint64_t sum = 0;
  for (size_t i = 0; i < d; ++i) {
    block_sum[i / category_block] += magnitude[i];
    sum += magnitude[i];
  }
  struct Case {
    int64_t n;
    uint64_t first_trial;
    uint64_t zero_weight;
    int64_t least_outside;  // trials outside the zero category the case needs
  };
  for (const Case& c : {Case{3, 0, 600 * sum, 0}, Case{200, 5, 520 * sum, 0}, Case{5000, 77, 520 * sum, 3},
                        Case{600000, 1000003, 600 * sum, 800}, Case{600000, 0, 400000 * sum, 0}}) {
    const uint64_t total = sum + c.zero_weight;
    CAPTURE(c.n);
    CAPTURE(c.first_trial);
    CHECK(c.zero_weight >= total - (total >> 9));  // the case exercises what it names
    const CategoryWeights cat{magnitude, block_sum, sum, 0, c.zero_weight};
    const SampleKey key{0x5eedull, 6, c.first_trial, Stream::sample};
    const std::vector<int32_t> expected = reference_sample(cat, c.n, key);
    const int64_t outside = std::accumulate(expected.begin(), expected.end(), int64_t{0});
    CHECK(outside >= c.least_outside);
    check_every_path(cat, c.n, key, expected);
  }
}
