#include "zimt/optim/zim.hpp"

#include "zimt/numerics.hpp"
#include "zimt/optim/philox_batch.hpp"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <stdexcept>
#include <thread>
#include <type_traits>

namespace zimt::optim {

namespace {

// Trials below this many are drawn serially straight into the counts.
constexpr int64_t serial_trials = 4096;
constexpr size_t trial_grain = 8192;
constexpr size_t merge_grain = 65536;
// Counter indices of the per-trial extra words; shared blocks stay below 2^54.
constexpr uint64_t extra_words_bit = uint64_t{1} << 55;
constexpr uint64_t max_trial_index = uint64_t{1} << 54;

// Exact u / C for a fixed C >= 1: an estimate from a 64-bit reciprocal, low by
// at most 2, then corrected.
struct Divider {
  uint64_t divisor;
  uint64_t reciprocal;  // floor((2^64 - 1) / divisor)
  explicit Divider(uint64_t c) : divisor(c), reciprocal(c == 0 ? 0 : ~uint64_t{0} / c) {}
  uint64_t operator()(uint64_t u) const {
    auto q = static_cast<uint64_t>((static_cast<u128>(u) * reciprocal) >> 64);
    while (u - q * divisor >= divisor) ++q;
    return q;
  }
};

// A trial's 64-bit words: its shared first word, then its own WordStream.
struct TrialWords {
  uint64_t first;
  WordStream extra;
  bool first_used = false;
  uint64_t operator()() {
    if (first_used) return extra();
    first_used = true;
    return first;
  }
};

}  // namespace

// Walker/Vose alias table over the K nonzero magnitudes, in integers: column
// capacity S = sum M, column i starts with residual M_i K (< 2^54 by the
// common-scale budget), so sum of residuals = K S exactly and every column
// ends up holding exactly S: P(category i) = M_i K / (K S) = M_i / S.
void MultinomialSampler::build_alias(const CategoryWeights& cat) {
  const uint64_t total = cat.magnitude_sum;
  // Indices of the nonzero magnitudes, compacted without branches (every
  // index is written, the write position advances past nonzero ones only);
  // the vectors keep their size >= d across calls.
  const size_t d = cat.magnitude.size();
  if (nonzero_index_.size() < d) nonzero_index_.resize(d);
  size_t k = 0;
  for (size_t i = 0; i < d; ++i) {
    nonzero_index_[k] = static_cast<uint32_t>(i);
    k += cat.magnitude[i] != 0;
  }
  if (columns_.size() < k) columns_.resize(k);
  if (residual_.size() < k) residual_.resize(k);
  for (size_t col = 0; col < k; ++col) {
    const uint32_t i = nonzero_index_[col];
    columns_[col] = {total, i, i};
    residual_[col] = cat.magnitude[i];
  }
  nonzero_ = k;
  small_.clear();
  large_.clear();
  for (uint32_t col = 0; col < k; ++col) {
    if (__builtin_mul_overflow(residual_[col], k, &residual_[col]))
      throw std::invalid_argument("MultinomialSampler: magnitude * (nonzero count) overflows 64 bits");
    (residual_[col] < total ? small_ : large_).push_back(col);
  }
  while (!small_.empty() && !large_.empty()) {
    const uint32_t s = small_.back();
    small_.pop_back();
    const uint32_t l = large_.back();
    columns_[s].threshold = residual_[s];
    columns_[s].alias = columns_[l].self;
    residual_[l] -= total - residual_[s];  // >= residual_[s] >= 0 since residual_[l] >= total
    if (residual_[l] < total) {
      large_.pop_back();
      small_.push_back(l);
    }
  }
  // Columns left in either list hold exactly `total` (the sums are exact, so
  // the small list cannot outlive the large one); their threshold stays total.
}

void MultinomialSampler::sample(const CategoryWeights& cat, int64_t n, const SampleKey& key,
                                std::span<int32_t> counts) {
  const size_t d = cat.magnitude.size();
  if (counts.size() != d) throw std::invalid_argument("MultinomialSampler: counts.size() != number of categories");
  if (n < 0 || n > INT32_MAX) throw std::invalid_argument("MultinomialSampler: n must be in [0, 2^31)");
  if (key.first_trial + static_cast<uint64_t>(n) > max_trial_index)
    throw std::invalid_argument("MultinomialSampler: trial indices must stay below 2^54");
  std::fill(counts.begin(), counts.end(), 0);
  uint64_t uniform_total = 0;
  uint64_t total = 0;
  if (__builtin_mul_overflow(cat.smoothing, uint64_t{d}, &uniform_total) ||
      __builtin_add_overflow(uniform_total, cat.magnitude_sum, &total) ||
      __builtin_add_overflow(total, cat.zero_weight, &total))
    throw std::invalid_argument("MultinomialSampler: total category weight overflows 64 bits");
  if (n == 0 || d == 0 || total == 0) return;
  if (cat.magnitude_sum != 0) build_alias(cat);

  const Divider by_smoothing(cat.smoothing);
  const uint64_t magnitude_sum = cat.magnitude_sum;
  const uint64_t columns = nonzero_;
  const Column* table = columns_.data();
  // Trial t's draw from its first word: a category, d for the zero category,
  // or d + 1 for "alias table, column `col`, threshold test on `y`".
  const size_t alias_pending = d + 1;
  auto category = [&](uint64_t t, uint64_t first_word, uint64_t& col, uint64_t& y) -> size_t {
    // Lemire's draw from the first word; only a rejection (p < 2^-9) or the
    // alias branch reads the trial's further words.
    const u128 m = static_cast<u128>(first_word) * total;
    uint64_t u = static_cast<uint64_t>(m >> 64);
    TrialWords words{first_word, WordStream(key.seed, key.stream, key.step, extra_words_bit | t)};
    if (static_cast<uint64_t>(m) < total)
      u = uniform_below(total, words);
    else
      words.first_used = true;
    if (u < uniform_total) return by_smoothing(u);
    u -= uniform_total;
    if (u >= magnitude_sum) return d;
    col = uniform_below(columns, words);
    y = u;
    return alias_pending;
  };
  // Trials [begin, end) (relative to first_trial) counted into `into`, a
  // batch of Philox blocks at a time. Most trials take the fast path (no
  // Lemire rejection possible, uniform branch); the others go through
  // `category`, and alias-table lookups wait for the end of the batch. The
  // counts array outgrows the caches at large d (>= 2^20 categories, 4 MB of
  // counts), so there the uniform trials' categories, like all others, are
  // prefetched and counted one batch later: scattered loads overlap instead
  // of stalling one by one. At smaller d they are counted at once.
  auto run_with = [&](uint64_t begin, uint64_t end, int32_t* into, auto deferred) {
    constexpr int batch_trials = 2 * philox_lanes;
    // Copies, so that the hot loop keeps them in registers.
    const uint64_t total_weight = total, uniform_weight = uniform_total;
    const Divider divide = by_smoothing;
    PhiloxBatch batch;
    uint64_t cols[batch_trials], ys[batch_trials];
    uint32_t cats[2][batch_trials];
    uint32_t* next = cats[0];  // this batch's categories
    uint32_t* last = cats[1];  // the previous batch's, prefetched
    int found = 0, last_found = 0, waiting = 0;
    const auto none = static_cast<uint32_t>(d);  // the zero category, or an alias-table trial
    // Trial t's category into `next` (alias-table trials wait in cols/ys).
    auto draw = [&](uint64_t t, uint64_t word) {
      const u128 m = static_cast<u128>(word) * total_weight;
      const auto u = static_cast<uint64_t>(m >> 64);
      uint32_t cat;
      if (static_cast<uint64_t>(m) >= total_weight && u < uniform_weight) [[likely]] {
        cat = static_cast<uint32_t>(divide(u));
        if constexpr (!deferred) {
          ++into[cat];
          return;
        }
      } else {
        const size_t c = category(t, word, cols[waiting], ys[waiting]);
        waiting += c == alias_pending;
        cat = c >= d ? none : static_cast<uint32_t>(c);
      }
      next[found] = cat;
      found += cat != none;
    };
    uint64_t t = key.first_trial + begin;
    const uint64_t t_end = key.first_trial + end;
    while (t < t_end) {
      const uint64_t first_block = t >> 1;
      philox_batch_fast(key.seed, key.stream, key.step, first_block, batch);
      waiting = 0;
      found = 0;
      if ((t & 1) == 0 && t_end - t >= batch_trials) {
        // A whole batch: block k holds trials t + 2k (low word) and t + 2k + 1.
        for (int k = 0; k < philox_lanes; ++k, t += 2) {
          draw(t, batch.lo64(k));
          draw(t + 1, batch.hi64(k));
        }
      } else {
        const uint64_t batch_end = std::min(t_end, (first_block + philox_lanes) << 1);
        for (; t < batch_end; ++t) {
          const int lane = static_cast<int>((t >> 1) - first_block);
          draw(t, (t & 1) ? batch.hi64(lane) : batch.lo64(lane));
        }
      }
      for (int k = 0; k < waiting; ++k) {
        const Column& col = table[cols[k]];
        next[found++] = ys[k] < col.threshold ? col.self : col.alias;
      }
      if constexpr (deferred)
        for (int k = 0; k < found; ++k) __builtin_prefetch(into + next[k], 1);
      for (int k = 0; k < last_found; ++k) ++into[last[k]];
      std::swap(next, last);
      last_found = found;
    }
    for (int k = 0; k < last_found; ++k) ++into[last[k]];
  };
  // Counts beyond the second-level caches: deferred, prefetched increments.
  constexpr size_t deferred_from = size_t{1} << 20;
  auto run = [&](uint64_t begin, uint64_t end, int32_t* into) {
    if (d >= deferred_from)
      run_with(begin, end, into, std::true_type{});
    else
      run_with(begin, end, into, std::false_type{});
  };

  const auto trials = static_cast<uint64_t>(n);
  if (n <= serial_trials) {
    run(0, trials, counts.data());
    return;
  }
  // The calling thread counts straight into `counts`, every other thread into
  // its own array (one thread: no merge at all).
  const std::thread::id caller = std::this_thread::get_id();
  tbb::parallel_for(tbb::blocked_range<uint64_t>(0, trials, trial_grain), [&](const tbb::blocked_range<uint64_t>& r) {
    if (std::this_thread::get_id() == caller) {
      run(r.begin(), r.end(), counts.data());
      return;
    }
    auto& local = local_counts_.local();
    if (local.counts.size() < d) local.counts.resize(d, 0);
    local.used = true;
    run(r.begin(), r.end(), local.counts.data());
  });
  // Merge: each task owns a slice of the counts; integer sums do not depend on
  // the order, and the local arrays are zeroed for the next call.
  bool any_used = false;
  for (const auto& local : local_counts_) any_used |= local.used;
  if (!any_used) return;
  tbb::parallel_for(tbb::blocked_range<size_t>(0, d, merge_grain), [&](const tbb::blocked_range<size_t>& r) {
    for (auto& local : local_counts_) {
      if (!local.used) continue;
      int32_t* from = local.counts.data();
      for (size_t i = r.begin(); i != r.end(); ++i) {
        counts[i] += from[i];
        from[i] = 0;
      }
    }
  });
  for (auto& local : local_counts_) local.used = false;
}

}  // namespace zimt::optim
