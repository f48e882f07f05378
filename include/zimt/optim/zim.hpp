#pragma once
// The ZIM sampler on its own: a gradient vector + rule parameters + (seed,
// step) -> exact integer trial counts X, with the update U = X ⊙ sign(g).
// Independent of any model, so it can be tested and benchmarked alone.
//
// Rules (docs/design.md, Update rules), real-valued parameters in Q32.32 (q32.hpp):
//   authors       : p_i = (|g_i| + c) / (||g||_1 + d c), X ~ Multinomial(n, p)
//   zero_inflated : q_i = alpha |g_i| / n plus a zero category 1 - sum q,
//                   X ~ ZIMultinomial(n, q), so E[U] = alpha g. If
//                   alpha ||g||_1 > n the zero category would be negative:
//                   the draw falls back to X ~ Multinomial(n, |g| / ||g||_1)
//                   and reports fallback = true.
//
// Sampling (docs/design.md, Update rules), exact in integers: all category
// weights live on one scale (common_scale.hpp): smoothing C per category,
// magnitudes M_i, zero weight M_0, total T = d C + sum M + M_0 < 2^55.
// Categories form blocks of category_block consecutive indices (the last may
// be shorter), block b with weight W_b = (its size) C + (its sum of M); the
// zero category is one more block. Two stages, each reading the categories
// in order instead of at random:
//   1. Which block. Trial t = first_trial + j (j = 0..n-1) reads the low
//      (t even) or high (t odd) 64-bit half of philox(seed, stream, step,
//      t / 2) and draws u = uniform_below(T) (Lemire: unbiased); its block is
//      the b with P_b <= u < P_b + W_b (P: the blocks' cumulative weights,
//      found by a table on the high bits of u that holds the one boundary
//      in each entry's range and the blocks on either side, or a short
//      forward scan where several boundaries share an entry). N_b counts
//      block b's trials.
//   2. Which category inside the block. Given the N_b, the trials in block b
//      are independent draws from the block's own categories with
//      probabilities (C + M_i) / W_b, so the block draws N_b new ones:
//      position s = first_trial + Q_b + k (Q_b = N_0 + ... + N_(b-1),
//      k = 0..N_b-1) reads the half (s even: low) of philox(seed, stream,
//      step, 2^53 + s / 2) and draws v = uniform_below(W_b); v < (size) C
//      picks block entry v / C, otherwise v - (size) C picks by the block's
//      cumulative magnitudes (a guide table on its high bits, then a forward
//      scan).
// A Lemire rejection (probability < 2^-9) reads further words from
// WordStream(seed, stream, step, 2^55 + t) in stage 1 and
// WordStream(seed, stream, step, 2^55 + 2^54 + s) in stage 2.
// So P(category i) = (W_b / T) ((C + M_i) / W_b) = (C + M_i) / T exactly, and
// the trials are independent.
//   1'. Stage 1 by runs, where the zero category holds M_0 >= T - T/2^9 (the
//      zero-inflated rule in training: all but a few dozen of ResNet-18's
//      11.2 M trials land there). The trial positions split into aligned
//      runs of 2^L (L = clamp(floor((bit_width(n) - 1) / 2) - 1, 0, 8)),
//      cut to [first_trial, first_trial + n) as the largest aligned runs
//      that fit. A run of m = 2^l trials lies all in the zero category with
//      probability (M_0/T)^m; otherwise its first half holds none with
//      probability M_0^h / (T^h + M_0^h), h = m/2 (given one outside in the
//      whole run), and the halves draw in turn under that condition or
//      none, down to single trials known to lie outside, which draw u =
//      uniform_below(P_blocks) (their block as in 1). Each probability is
//      an exact fraction, read as X < p from the run's words (zero_run_odds.hpp);
//      run [t, t + 2^l) reads WordStream(seed, stream, step, 2^54 + (node
//      << 45) + t / 2^8), node = 2^(8 - l) + (t mod 2^8) / 2^l. The N_b have
//      the distribution of 1's (every trial independent), from about one
//      word per run instead of one per trial; the processes of a split draw
//      take whole runs.
// The counts depend on the key and the weights only: the same for any
// thread count, partition and instruction-set path.
//
// Degenerate inputs (defined, tested):
//   n = 0                    -> all counts 0, no random numbers drawn
//   all-zero gradient        -> authors: uniform p (each trial picks an index
//                               with p = 1/d), U = 0 since sign(0) = 0;
//                               zero_inflated: every trial in the zero category
//   d = 0                    -> nothing to sample (n trials counted as drawn)
//   authors with c = 0 and g = 0 -> T = 0: no category, all counts 0
//   |g| up to 2^63 (INT64_MIN included) -> exact signs, scale per common_scale.hpp
// Limits: n <= INT32_MAX (counts are int32), first_trial + n <= 2^53.
//
// Several processes holding the same gradients can split one draw (the
// trials of stage 1, the blocks of stage 2) and exchange their counts
// (sharded_draw.hpp): the counts are the same.
#include "zimt/batch_reducer.hpp"
#include "zimt/optim/common_scale.hpp"
#include "zimt/optim/philox_batch.hpp"
#include "zimt/optim/q32.hpp"
#include "zimt/optim/sharded_draw.hpp"
#include "zimt/optim/zero_run_odds.hpp"
#include "zimt/rng.hpp"

#include <cstdint>
#include <span>
#include <vector>

namespace zimt::optim {

enum class ZimRule : uint8_t { authors, zero_inflated };

struct ZimRuleParams {
  ZimRule rule = ZimRule::authors;
  int64_t n = 0;        // trials (0 <= n <= INT32_MAX)
  q32 c = q32_one;      // authors: smoothing in real gradient units (default 1)
  q32 alpha = q32_one;  // zero_inflated: E[U] = alpha g
};

// Which random numbers a draw uses: WordStream(seed, stream, step, first_trial + j).
struct SampleKey {
  uint64_t seed = 0;
  uint64_t step = 0;
  uint64_t first_trial = 0;
  Stream stream = Stream::sample;
};

// The magnitudes M_i a block at a time, for weights not stored as a whole.
class BlockMagnitudes {
 public:
  // M_i for i in [begin, begin + size) into out[0, size).
  virtual void fill(size_t begin, size_t size, uint64_t* out) const = 0;

 protected:
  ~BlockMagnitudes() = default;
};

// One multinomial's categories on one integer scale (see the header comment).
struct CategoryWeights {
  std::span<const uint64_t> magnitude;            // M_i, d entries (empty: from `source`)
  std::span<const uint64_t> block_magnitude_sum;  // sums of M over blocks of category_block entries
  uint64_t magnitude_sum = 0;                     // sum M_i
  uint64_t smoothing = 0;                         // C, added to every category
  uint64_t zero_weight = 0;                       // M_0 (no category: trials there change nothing)
  const BlockMagnitudes* source = nullptr;        // M_i of the blocks that need them, when magnitude is empty
};

// Receives a draw's counts a block of category_block categories at a time
// (MultinomialSampler::sample with a sink), while they are in cache.
class BlockCounts {
 public:
  // The counts of categories [begin, begin + size), or counts == nullptr
  // where the block drew no trial (all 0). Called once per block, from any
  // thread (blocks in any order, several at once).
  virtual void block(size_t begin, size_t size, const int32_t* counts) = 0;

 protected:
  ~BlockCounts() = default;
};

// Draws exact multinomial counts; owns its scratch (the block table, and per
// slot of the task arena the block counts and a block's search tables, all
// O(d / 4096 + 4096) entries, sized at a draw's start), so reuse one sampler
// across steps: after the first draw of a size it allocates nothing.
class MultinomialSampler {
 public:
  // counts.size() must equal cat.magnitude.size() (or with a source, the
  // number of categories), cat.block_magnitude_sum must hold the block sums
  // of the magnitudes; counts are overwritten. The processes of `group` each
  // draw a share and all receive the whole counts (collective: every
  // process calls it with the same arguments).
  void sample(const CategoryWeights& cat, int64_t n, const SampleKey& key, std::span<int32_t> counts,
              const BatchReducer& group = single_process());
  // The same draw over d categories, handed to `sink` block by block (in
  // each block's thread, just drawn) instead of written to d counts; on
  // several processes, every process's sink receives every block, after the
  // processes exchanged the counts of the blocks that drew.
  void sample(const CategoryWeights& cat, size_t d, int64_t n, const SampleKey& key, BlockCounts& sink,
              const BatchReducer& group = single_process());

  // Which Philox path draws the words (default: the widest the CPU has);
  // every supported path gives the same counts.
  void use_philox_path(PhiloxPath path) { philox_path_ = path; }
  // This process's share of the last draw and what it exchanged.
  const DrawShares& shares() const { return shares_; }
  // N_b of the last draw (summed over the processes): the trials of each
  // block of category_block categories.
  std::span<const uint32_t> block_trials() const { return block_trials_; }

  // A block-table entry's values split at one boundary (sampler.cpp, build_edges).
  struct Edge {
    static constexpr uint32_t kSearch = ~uint32_t{0};
    uint64_t threshold;
    uint32_t below, above;
  };

 private:
  // counts (d entries), or with a sink none on one process.
  void draw(const CategoryWeights& cat, size_t d, int64_t n, const SampleKey& key, std::span<int32_t> counts,
            BlockCounts* sink, const BatchReducer& group);
  // Every block of the d categories to `sink`, from counts (d entries), or
  // without counts where block_trials() is 0.
  void hand_over(BlockCounts& sink, size_t d, std::span<const int32_t> counts) const;

  PhiloxPath philox_path_ = best_philox_path();
  std::vector<uint64_t> block_start_;   // P_b for b = 0..blocks + 1 (zero category last)
  std::vector<uint32_t> block_lookup_;  // first block that can hold u, by u's high bits
  std::vector<Edge> block_edges_;       // the block of u by u's high bits and one comparison
  std::vector<uint32_t> block_trials_;  // N_b
  std::vector<uint64_t> block_offset_;  // Q_b
  DrawShares shares_;                   // this process's share of the draw
  ZeroRunOdds odds_;                    // stage 1 by runs: the zero category's odds
  struct ThreadScratch {
    std::vector<uint32_t> block_trials;  // this thread's share of N_b
    std::vector<uint64_t> magnitude;     // a block's magnitudes from CategoryWeights::source (category_block)
    std::vector<uint64_t> cumulative;    // a block's cumulative magnitudes (category_block + 1)
    std::vector<uint32_t> guide;         // a block's entry by the high bits of its magnitude draw
    std::vector<uint64_t> pending;       // a chunk of a block's draws in its magnitude part, before their search
    std::vector<uint64_t> digits;        // a run's odds past their first digit (ZeroRunOdds)
    std::vector<int32_t> block_counts;   // a block's counts, for a sink (category_block)
  };
  std::vector<ThreadScratch> scratch_;  // one per slot of the task arena (sized by sample())
  std::vector<int32_t> gathered_;       // a sink's d counts, exchanged between processes
};

struct ZimDraw {
  int64_t trials = 0;     // n
  bool fallback = false;  // zero_inflated only: alpha ||g||_1 > n
};

// Everything one ZIM draw needs between steps.
struct ZimWorkspace {
  ScaledGradient scaled;
  MultinomialSampler sampler;
  // on_demand: scaled holds no magnitudes or signs (the draw computes a
  // block's magnitudes when it needs them; the caller takes the signs from
  // the gradients): two passes over d entries fewer. signs: the signs
  // alone (one byte an entry where magnitudes take eight).
  ScaledEntries entries = ScaledEntries::stored;
};

// The rule on gradient slices (one multinomial over their concatenation):
// counts[i] = X_i, and U_i = X_i * sign(g_i) (ws.scaled.sign[i] when
// stored); the draw split over the processes of `group`
// (MultinomialSampler::sample).
ZimDraw zim_sample(std::span<const GradientSlice> slices, const ZimRuleParams& rule, const SampleKey& key,
                   std::span<int32_t> counts, ZimWorkspace& ws, const BatchReducer& group = single_process());
// The same draw, its counts handed to `sink` block by block (blocks of the
// slices' concatenation).
ZimDraw zim_sample(std::span<const GradientSlice> slices, const ZimRuleParams& rule, const SampleKey& key,
                   BlockCounts& sink, ZimWorkspace& ws, const BatchReducer& group = single_process());

// Convenience for one vector with one exponent.
inline ZimDraw zim_sample(std::span<const int64_t> g, int64_t g_exp, const ZimRuleParams& rule, const SampleKey& key,
                          std::span<int32_t> counts, ZimWorkspace& ws, const BatchReducer& group = single_process()) {
  const GradientSlice slice{g.data(), g.size(), g_exp};
  return zim_sample(std::span<const GradientSlice>(&slice, 1), rule, key, counts, ws, group);
}

}  // namespace zimt::optim
