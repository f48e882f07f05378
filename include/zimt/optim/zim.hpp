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
// Sampling (docs/design.md, Update rules), exact in integers: all category weights live on one
// scale (common_scale.hpp): smoothing C per category, magnitudes M_i, zero
// weight M_0, total T = d C + sum M + M_0 < 2^55. Absolute trial t =
// first_trial + j (j = 0..n-1) reads 64-bit words: first the low (t even) or
// high (t odd) half of philox(seed, stream, step, t / 2), two trials per
// Philox block; then, if needed, WordStream(seed, stream, step, 2^55 | t).
//   u = uniform_below(T)                     (Lemire: unbiased)
//   u <  d C          -> category u / C      (uniform part of the mixture)
//   u <  d C + sum M  -> alias table: column uniform_below(K) over the K
//                        nonzero magnitudes, y = u - d C, Walker/Vose
//                        threshold test (integer thresholds, exact)
//   otherwise         -> zero category (no count)
// so P(category i) = (C + M_i) / T exactly. Counts are sums of per-trial
// increments: the same for any thread count and any partition of the trials.
//
// Degenerate inputs (defined, tested):
//   n = 0                    -> all counts 0, no random numbers drawn
//   all-zero gradient        -> authors: uniform p (each trial picks an index
//                               with p = 1/d), U = 0 since sign(0) = 0;
//                               zero_inflated: every trial in the zero category
//   d = 0                    -> nothing to sample (n trials counted as drawn)
//   authors with c = 0 and g = 0 -> T = 0: no category, all counts 0
//   |g| up to 2^63 (INT64_MIN included) -> exact signs, scale per common_scale.hpp
// Limits: n <= INT32_MAX (counts are int32), first_trial + n <= 2^54.
#include "zimt/optim/common_scale.hpp"
#include "zimt/optim/q32.hpp"
#include "zimt/rng.hpp"

#include <tbb/enumerable_thread_specific.h>

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

// One multinomial's categories on one integer scale (see the header comment).
struct CategoryWeights {
  std::span<const uint64_t> magnitude;  // M_i, d entries
  uint64_t magnitude_sum = 0;           // sum M_i
  uint64_t smoothing = 0;               // C, added to every category
  uint64_t zero_weight = 0;             // M_0 (no category: trials there change nothing)
};

// Draws exact multinomial counts; owns its scratch (alias table, count arrays
// of d int32 each for the threads other than the caller: (threads - 1) x d x 4
// bytes, merged into `counts` by index range), so reuse one sampler across
// steps. The calling thread, and a draw of up to 4096 trials, count straight
// into `counts`.
class MultinomialSampler {
 public:
  // counts.size() must equal cat.magnitude.size(); counts are overwritten.
  void sample(const CategoryWeights& cat, int64_t n, const SampleKey& key, std::span<int32_t> counts);

 private:
  struct Column {
    uint64_t threshold;  // y < threshold -> own category, else the alias
    uint32_t self;
    uint32_t alias;
  };
  void build_alias(const CategoryWeights& cat);

  std::vector<Column> columns_;  // the first nonzero_ are the alias table
  size_t nonzero_ = 0;
  std::vector<uint32_t> nonzero_index_;
  std::vector<uint64_t> residual_;
  std::vector<uint32_t> small_, large_;
  struct LocalCounts {
    std::vector<int32_t> counts;  // d entries, all 0 between calls
    bool used = false;            // written during this call
  };
  tbb::enumerable_thread_specific<LocalCounts> local_counts_;
};

struct ZimDraw {
  int64_t trials = 0;     // n
  bool fallback = false;  // zero_inflated only: alpha ||g||_1 > n
};

// Everything one ZIM draw needs between steps.
struct ZimWorkspace {
  ScaledGradient scaled;
  MultinomialSampler sampler;
};

// The rule on gradient slices (one multinomial over their concatenation):
// counts[i] = X_i, and U_i = X_i * ws.scaled.sign[i] afterwards.
ZimDraw zim_sample(std::span<const GradientSlice> slices, const ZimRuleParams& rule, const SampleKey& key,
                   std::span<int32_t> counts, ZimWorkspace& ws);

// Convenience for one vector with one exponent.
inline ZimDraw zim_sample(std::span<const int64_t> g, int64_t g_exp, const ZimRuleParams& rule, const SampleKey& key,
                          std::span<int32_t> counts, ZimWorkspace& ws) {
  const GradientSlice slice{g.data(), g.size(), g_exp};
  return zim_sample(std::span<const GradientSlice>(&slice, 1), rule, key, counts, ws);
}

}  // namespace zimt::optim
