#include "zimt/numerics.hpp"
#include "zimt/optim/draw_kernels.hpp"
#include "zimt/optim/exact_divider.hpp"
#include "zimt/optim/zim.hpp"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <stdexcept>
#include <type_traits>

namespace zimt::optim {

namespace {

constexpr size_t trial_grain = 16384;  // stage-1 trials per task
constexpr size_t block_grain = 4;      // stage-2 category blocks per task
constexpr int run_share_bits = 9;      // and draws by runs of trials from a share of 1 - 2^-9
constexpr int max_run_bits = 8;        // runs of at most 256 trials
// Counter indices (zim.hpp): stage-1 blocks below 2^52, stage-2 blocks from
// 2^53, runs from 2^54, further words of a rejected draw from 2^55 (stage 2:
// 2^55 + 2^54).
constexpr uint64_t max_trial_index = uint64_t{1} << 53;
constexpr uint64_t within_block_counters = uint64_t{1} << 53;
constexpr uint64_t run_counters = uint64_t{1} << 54;
constexpr int run_node_shift = 45;  // a run's node above its position's bits: (t >> max_run_bits) < 2^45
constexpr uint64_t extra_words_bit = uint64_t{1} << 55;
constexpr uint64_t within_block_extra_bit = uint64_t{1} << 54;
// The block lookup table holds about four entries per block, so few entries
// hold more than one block boundary (build_edges); a block's guide table
// (below) is built for the blocks with many draws in their magnitude part.
constexpr int lookup_extra_bits = 2;
// A block's guide table has two entries per category (one left forward
// scans of several steps where magnitudes cluster: 5 % slower with the
// zero-inflated rule), and costs about as much to build as this many binary
// searches per category (block entries / 16 = 256 searches for a full block).
constexpr int guide_bits = category_block_bits + 1;
constexpr size_t searches_per_table = 16;
// A block's magnitude-part draws are searched in chunks of at most this many.
constexpr size_t pending_capacity = 2 * category_block;

// A draw's 64-bit words: its shared first word, then its own WordStream.
struct DrawWords {
  uint64_t first;
  WordStream extra;
  bool first_used = false;
  uint64_t operator()() {
    if (first_used) return extra();
    first_used = true;
    return first;
  }
};

// g(t, u, size) for consecutive runs [t, t + size) of [begin, end): u[k] =
// uniform_below(bound) (Lemire) on the words of trial t + k, which start
// with the low (t + k even) or high (odd) half of philox(seed, stream, step,
// counter_base + (t + k) / 2) and go on, after a rejection, with
// WordStream(seed, stream, step, extra_base | (t + k)). A run of 64 blocks
// (16 for a short rest) is drawn first and its rare rejections redrawn
// after, so that a loop of g over u calls nothing: a call inside it spills
// the pointers of a table search, which then waits on the previous trial's
// count store (measured: stage 1 four times slower).
template <class G>
void for_each_run_of_draws(PhiloxPath path, const SampleKey& key, uint64_t counter_base, uint64_t extra_base,
                           uint64_t bound, uint64_t begin, uint64_t end, G&& g) {
  constexpr uint64_t run_words = uint64_t{2} * philox_run_blocks, batch_words = uint64_t{2} * philox_lanes;
  PhiloxRunWords words;
  uint64_t draws[run_words];
  uint64_t t = begin;
  while (t < end) {
    const uint64_t first_block = t >> 1;
    const uint64_t first_word = first_block << 1;
    uint64_t count = run_words;
    if (end - first_word > batch_words) {
      philox_run_on(path, key.seed, key.stream, key.step, counter_base + first_block, words);
    } else {
      philox_words_on(path, key.seed, key.stream, key.step, counter_base + first_block,
                      *reinterpret_cast<PhiloxWords*>(words));
      count = batch_words;
    }
    const uint64_t skip = t - first_word, size = std::min(end, first_word + count) - t;
    const uint64_t* w = words + skip;
    // A rejection is possible with probability < 2^-9 per word.
    if (multiply_draws_on(path, w, size, bound, draws)) [[unlikely]] {
      for (uint64_t k = 0; k < size; ++k) {
        if (static_cast<uint64_t>(static_cast<u128>(w[k]) * bound) >= bound) continue;
        DrawWords more{w[k], WordStream(key.seed, key.stream, key.step, extra_base | (t + k))};
        draws[k] = uniform_below(bound, more);
      }
    }
    g(t, static_cast<const uint64_t*>(draws), size);
    t += size;
  }
}

// f(t, u) for every trial t in [begin, end), u its draw (for_each_run_of_draws).
template <class F>
void for_each_draw(PhiloxPath path, const SampleKey& key, uint64_t counter_base, uint64_t extra_base, uint64_t bound,
                   uint64_t begin, uint64_t end, F&& f) {
  for_each_run_of_draws(path, key, counter_base, extra_base, bound, begin, end,
                        [&](uint64_t t, const uint64_t* u, uint64_t size) {
                          for (uint64_t k = 0; k < size; ++k) f(t + k, u[k]);
                        });
}

// Entries of a lookup table for values below bound, 2^shift values each.
inline uint32_t lookup_entries(uint64_t bound, int shift) { return static_cast<uint32_t>(((bound - 1) >> shift) + 1); }

// lookup[g] = the largest index i < last with start[i] <= g << shift, for
// g = 0 .. (bound - 1) >> shift, where shift keeps the table within 2^bits
// entries; start is non-decreasing from start[0] = 0, with start[last] >=
// bound. A value x below bound then lies in entry i = lookup[x >> shift] or a
// later one: the first i with x < start[i + 1]. Returns shift.
int build_lookup(PhiloxPath path, const uint64_t* start, size_t last, uint64_t bound, int bits,
                 std::vector<uint32_t>& lookup) {
  const int shift = std::max(0, bit_width_u64(bound - 1) - bits);
  const uint32_t entries = lookup_entries(bound, shift);
  // Sized for the largest table of `bits` (entries <= 2^bits), so that a
  // later draw never grows it.
  if (lookup.size() < (size_t{1} << bits) + 1) lookup.resize((size_t{1} << bits) + 1);
  // Index i owns the table entries g with start[i] <= g << shift: from
  // ceil(start[i] / 2^shift) on. Mark each index at its first entry (a later
  // index with the same first entry overwrites: the largest wins; slot
  // `entries` takes the indices that own none), then carry the marks forward.
  std::fill(lookup.begin(), lookup.begin() + entries, 0);
  constexpr size_t kPart = 64;
  uint32_t first[kPart];
  for (size_t i0 = 0; i0 < last; i0 += kPart) {
    const size_t count = std::min(kPart, last - i0);
    first_entries_on(path, start + i0, count, shift, entries, first);
    for (size_t j = 0; j < count; ++j) lookup[first[j]] = static_cast<uint32_t>(i0 + j);
  }
  running_max_on(path, lookup.data(), entries);
  return shift;
}

// Per entry g of a lookup table (build_lookup): the values of g's range
// [g << shift, (g + 1) << shift) below `threshold` lie in index `below`, the
// others in `above`; above == kSearch where two or more boundaries fall in the
// range (find_entry then searches).
void build_edges(const uint64_t* start, size_t last, int shift, const uint32_t* lookup, size_t entries,
                 std::vector<MultinomialSampler::Edge>& edges) {
  using Edge = MultinomialSampler::Edge;
  if (edges.size() < entries) edges.resize(entries);
  for (size_t g = 0; g < entries; ++g) {
    const uint32_t below = lookup[g];
    const uint64_t end = static_cast<uint64_t>(g + 1) << shift;  // past the range
    const uint64_t boundary = start[below + 1];
    if (below + 1 == last || boundary >= end) {  // one index holds the range
      edges[g] = {~uint64_t{0}, below, below};
      continue;
    }
    size_t above = below + 1;
    while (above + 1 < last && start[above + 1] == boundary) ++above;  // skip empty indices
    const bool more = above + 1 < last && start[above + 1] < end;
    edges[g] = {boundary, below, more ? Edge::kSearch : static_cast<uint32_t>(above)};
  }
}

// The entry i of a lookup table (build_lookup) that holds x: start[i] <= x < start[i + 1].
inline size_t find_entry(const uint64_t* start, const uint32_t* lookup, int shift, uint64_t x) {
  size_t i = lookup[x >> shift];
  // The usual one or two steps without a branch (the entry is found by then
  // unless three boundaries share one table entry).
  i += start[i + 1] <= x;
  i += start[i + 1] <= x;
  while (start[i + 1] <= x) ++i;
  return i;
}

// The largest i < size with start[i] <= x, for non-decreasing start with
// start[0] <= x: the same entry as find_entry, by a binary search without
// branches (no table to build, for a few values).
inline size_t search_entry(const uint64_t* start, size_t size, uint64_t x) {
  const uint64_t* base = start;
  while (size > 1) {
    const size_t half = size / 2;
    base = base[half] <= x ? base + half : base;
    size -= half;
  }
  return static_cast<size_t>(base - start);
}

// The block of a stage-1 draw u (build_edges; the zero category is the last).
inline size_t find_block(const MultinomialSampler::Edge* edges, const uint64_t* starts, const uint32_t* lookup,
                         int shift, uint64_t u) {
  const MultinomialSampler::Edge e = edges[u >> shift];
  if (e.above == MultinomialSampler::Edge::kSearch) [[unlikely]]
    return find_entry(starts, lookup, shift, u);
  return u < e.threshold ? e.below : e.above;
}

// The counter of the run of trials [t, t + 2^level) (aligned): node of a
// heap over each 2^max_run_bits positions (1 for the whole, 2 and 3 for its
// halves, ...), above the index of those positions.
inline uint64_t run_counter(uint64_t t, int level) {
  const uint64_t node = (uint64_t{1} << (max_run_bits - level)) + ((t & ((uint64_t{1} << max_run_bits) - 1)) >> level);
  return run_counters | (node << run_node_shift) | (t >> max_run_bits);
}

// Stage 1 by runs (zim.hpp): the trials of a run, aligned at 2^level, all in
// the zero category with probability (Z/T)^(2^level); otherwise the first
// half holds none with probability left_empty(level - 1) and the rest draw
// in turn, down to single trials, which draw their block below the zero
// category's start. A run reads its words from its own WordStream.
struct RunDraw {
  const SampleKey& key;
  const ZeroRunOdds& odds;
  uint64_t zero_start;
  const MultinomialSampler::Edge* edges;
  const uint64_t* starts;
  const uint32_t* lookup;
  int shift;
  uint32_t* trials_in;
  std::vector<uint64_t>& digits;

  // known: at least one of the run's trials lands outside the zero category.
  void operator()(uint64_t t, int level, bool known) const {
    WordStream words(key.seed, key.stream, key.step, run_counter(t, level));
    if (!known && odds.all_zero(level).below(words, digits)) return;
    if (level == 0) {
      ++trials_in[find_block(edges, starts, lookup, shift, uniform_below(zero_start, words))];
      return;
    }
    const uint64_t half = uint64_t{1} << (level - 1);
    if (odds.left_empty(level - 1).below(words, digits)) {
      (*this)(t + half, level - 1, true);
      return;
    }
    (*this)(t, level - 1, true);
    (*this)(t + half, level - 1, false);
  }
};

}  // namespace

void MultinomialSampler::sample(const CategoryWeights& cat, int64_t n, const SampleKey& key, std::span<int32_t> counts,
                                const BatchReducer& group) {
  if (cat.source == nullptr && cat.magnitude.size() != counts.size())
    throw std::invalid_argument("MultinomialSampler: counts.size() != number of categories");
  draw(cat, counts.size(), n, key, counts, nullptr, group);
}

void MultinomialSampler::sample(const CategoryWeights& cat, size_t d, int64_t n, const SampleKey& key,
                                BlockCounts& sink, const BatchReducer& group) {
  if (cat.source == nullptr && cat.magnitude.size() != d)
    throw std::invalid_argument("MultinomialSampler: d != number of categories");
  // One process: each block's counts in its thread's scratch. Several: all
  // d counts, for the exchange.
  std::span<int32_t> counts;
  if (group.size() > 1) {
    gathered_.resize(d);
    counts = gathered_;
  }
  draw(cat, d, n, key, counts, &sink, group);
}

void MultinomialSampler::draw(const CategoryWeights& cat, size_t d, int64_t n, const SampleKey& key,
                              std::span<int32_t> counts, BlockCounts* sink, const BatchReducer& group) {
  if (n < 0 || n > INT32_MAX) throw std::invalid_argument("MultinomialSampler: n must be in [0, 2^31)");
  if (key.first_trial + static_cast<uint64_t>(n) > max_trial_index)
    throw std::invalid_argument("MultinomialSampler: trial indices must stay below 2^53");
  const size_t blocks = (d + category_block - 1) / category_block;
  if (cat.block_magnitude_sum.size() != blocks)
    throw std::invalid_argument("MultinomialSampler: one magnitude sum per block of category_block entries needed");
  uint64_t uniform_total = 0;
  uint64_t total = 0;
  if (__builtin_mul_overflow(cat.smoothing, uint64_t{d}, &uniform_total) ||
      __builtin_add_overflow(uniform_total, cat.magnitude_sum, &total) ||
      __builtin_add_overflow(total, cat.zero_weight, &total))
    throw std::invalid_argument("MultinomialSampler: total category weight overflows 64 bits");
  if (n == 0 || d == 0 || total == 0) {
    block_trials_.assign(blocks, 0);
    if (sink == nullptr)
      std::fill(counts.begin(), counts.end(), 0);
    else
      hand_over(*sink, d, counts);  // every block without counts
    return;
  }

  // The block table: P_b for b = 0..blocks, then the zero category's end T.
  block_start_.resize(blocks + 2);
  uint64_t start = 0;
  for (size_t b = 0; b < blocks; ++b) {
    block_start_[b] = start;
    const uint64_t size = std::min(category_block, d - b * category_block);
    start += size * cat.smoothing + cat.block_magnitude_sum[b];  // <= d C + sum M: checked above
  }
  if (start != uniform_total + cat.magnitude_sum)
    throw std::invalid_argument("MultinomialSampler: block magnitude sums do not add up to the magnitude sum");
  block_start_[blocks] = start;
  block_start_[blocks + 1] = total;
  const int block_shift = build_lookup(philox_path_, block_start_.data(), blocks + 1, total,
                                       bit_width_u64(blocks + 1) + lookup_extra_bits, block_lookup_);
  build_edges(block_start_.data(), blocks + 1, block_shift, block_lookup_.data(), lookup_entries(total, block_shift),
              block_edges_);

  const uint64_t zero_start = block_start_[blocks];
  const uint64_t* starts = block_start_.data();
  const uint32_t* lookup = block_lookup_.data();
  const Edge* edges = block_edges_.data();
  const bool by_runs = cat.zero_weight >= total - (total >> run_share_bits);
  // Runs of 2^run_levels trials, fewer for small n: the odds' integers grow
  // with the run length (T^256 has 220 words), and their cost with its square.
  const int run_levels = std::clamp((bit_width_u64(static_cast<uint64_t>(n)) - 1) / 2 - 1, 0, max_run_bits);

  // Stage 1: each thread counts its trials per block (the zero category is
  // block `blocks`), of this process's share of the trials (sharded_draw.hpp).
  // Scratch per slot of the task arena, all sized here, so that neither a
  // thread's first task nor a later draw of the same size allocates.
  const auto slots = static_cast<size_t>(tbb::this_task_arena::max_concurrency());
  if (scratch_.size() < slots) scratch_.resize(slots);
  for (auto& s : scratch_) {
    s.block_trials.assign(blocks + 1, 0);
    s.pending.resize(pending_capacity);
    s.cumulative.resize(category_block + 1);
    if (cat.source != nullptr) s.magnitude.resize(category_block);
    s.guide.resize((size_t{1} << guide_bits) + 1);  // build_lookup's largest
    s.digits.reserve(ZeroRunOdds::max_words(run_levels));
    if (sink != nullptr) s.block_counts.resize(category_block);
  }
  odds_.reserve(run_levels);  // whether or not this draw goes by runs: a later one may

  auto slot_scratch = [&]() -> ThreadScratch& {
    return scratch_[static_cast<size_t>(tbb::this_task_arena::current_thread_index())];
  };
  const PhiloxPath path = philox_path_;
  const uint64_t first = key.first_trial;
  const IndexRange my_trials = shares_.trials(n, group);
  // With the zero-inflated rule most trials can land in the zero category
  // (in training all but 0.5-3 % of the CNN's and the MLP's, below the share
  // that goes by runs): vector compares pick the trials outside it from each
  // run of draws and count the rest at once, skipping for those the block
  // table's load and the increment of one counter in memory, which waits for
  // the last (docs/results.md, engine 70f951d: bench_sampler's regime 3 at
  // d = 421,642 0.71-0.78 -> 0.61-0.68 ms). The counts are the same either way.
  auto count_trials = [&](auto zero_first) {
    tbb::parallel_for(
        tbb::blocked_range<uint64_t>(my_trials.begin, my_trials.end, trial_grain),
        [&](const tbb::blocked_range<uint64_t>& r) {
          uint32_t* trials_in = slot_scratch().block_trials.data();
          if constexpr (decltype(zero_first)::value) {
            // The run's draws below the zero category's start packed
            // together (eight compares per instruction), the others counted.
            uint64_t outside[2 * philox_run_blocks];
            uint64_t zero_trials = 0;
            for_each_run_of_draws(path, key, 0, extra_words_bit, total, first + r.begin(), first + r.end(),
                                  [&](uint64_t, const uint64_t* u, uint64_t size) {
                                    const size_t count = below_on(path, u, size, zero_start, outside);
                                    zero_trials += size - count;
                                    for (size_t k = 0; k < count; ++k)
                                      ++trials_in[find_block(edges, starts, lookup, block_shift, outside[k])];
                                  });
            trials_in[blocks] += static_cast<uint32_t>(zero_trials);  // n < 2^31
          } else {
            for_each_draw(
                path, key, 0, extra_words_bit, total, first + r.begin(), first + r.end(),
                [&](uint64_t, uint64_t u) { ++trials_in[find_block(edges, starts, lookup, block_shift, u)]; });
          }
        });
  };
  // Where the zero category holds at least 1 - 2^-run_share_bits of the
  // weight, trials go by runs (RunDraw): a run of up to 2^run_levels trials,
  // nearly always all in the zero category, costs one word instead of one
  // per trial (ResNet-18 in training: n = 11.2 M words for a few dozen
  // trials outside it). The process shares are whole runs.
  auto count_runs = [&]() {
    if (zero_start == 0) return;  // no weight outside the zero category
    odds_.prepare(cat.zero_weight, total, run_levels);
    const uint64_t begin = first, end = first + static_cast<uint64_t>(n);
    const uint64_t first_run = begin >> run_levels, runs = ((end - 1) >> run_levels) + 1 - first_run;
    const IndexRange mine = process_share(runs, group.rank(), group.size());
    tbb::parallel_for(
        tbb::blocked_range<uint64_t>(mine.begin, mine.end, std::max<uint64_t>(1, trial_grain >> run_levels)),
        [&](const tbb::blocked_range<uint64_t>& r) {
          ThreadScratch& local = slot_scratch();
          const RunDraw draw{
              key, odds_, zero_start, edges, starts, lookup, block_shift, local.block_trials.data(), local.digits};
          for (uint64_t j = r.begin(); j != r.end(); ++j) {
            // The run's trials within [begin, end), as the largest aligned runs that fit.
            const uint64_t lo = std::max(begin, (first_run + j) << run_levels);
            const uint64_t hi = std::min(end, (first_run + j + 1) << run_levels);
            for (uint64_t t = lo; t < hi;) {
              int level = run_levels;
              while ((t & ((uint64_t{1} << level) - 1)) != 0 || t + (uint64_t{1} << level) > hi) --level;
              draw(t, level, false);
              t += uint64_t{1} << level;
            }
          }
        });
  };
  if (by_runs)
    count_runs();
  else if (cat.zero_weight > 0)
    count_trials(std::true_type{});
  else
    count_trials(std::false_type{});
  block_trials_.assign(blocks, 0);
  for (const auto& s : scratch_)
    for (size_t b = 0; b < blocks; ++b) block_trials_[b] += s.block_trials[b];
  const IndexRange own = shares_.blocks(block_trials_, d, group);  // N_b summed over the processes first
  block_offset_.resize(blocks);
  uint64_t offset = 0;
  for (size_t b = 0; b < blocks; ++b) {
    block_offset_[b] = offset;
    offset += block_trials_[b];
  }

  // Stage 2: each block (of this process's) draws its trials' categories
  // into its own range of counts, or for a sink on one process into its
  // thread's scratch, handed over at once.
  const bool sink_now = sink != nullptr && counts.empty();
  const ExactDivider by_smoothing(cat.smoothing);  // block draws are below T < 2^55
  const tbb::blocked_range<size_t> my_blocks(own.begin, own.end, block_grain);
  tbb::parallel_for(my_blocks, [&](const tbb::blocked_range<size_t>& r) {
    ThreadScratch& local = slot_scratch();
    for (size_t b = r.begin(); b != r.end(); ++b) {
      const size_t begin = b * category_block, size = std::min(category_block, d - begin);
      const uint32_t trials = block_trials_[b];
      if (trials == 0 && sink != nullptr) {
        if (sink_now) sink->block(begin, size, nullptr);
        continue;  // exchanged as not drawn
      }
      int32_t* out = sink_now ? local.block_counts.data() : counts.data() + begin;
      std::fill(out, out + size, 0);
      if (trials == 0) continue;
      const uint64_t uniform_weight = size * cat.smoothing;
      const uint64_t magnitude_weight = cat.block_magnitude_sum[b];
      const uint64_t block_weight = uniform_weight + magnitude_weight;
      // The block's trials in chunks of at most pending_capacity: the uniform
      // part counts at once, the magnitude part keeps its offset into the
      // block's magnitudes and is searched by the block's cumulative
      // magnitudes once the chunk is drawn: by a binary search while the
      // block has had few such offsets, by a guide table (one entry per
      // category) from the chunk where building it costs less than the
      // searches it saves. The scratch has a fixed size, so no draw grows it.
      uint64_t* pending = local.pending.data();
      uint64_t* cumulative = local.cumulative.data();
      size_t searched = 0;
      int guide_shift = -1;  // no guide table built yet
      const uint64_t s_begin = first + block_offset_[b], s_end = s_begin + trials;
      for (uint64_t chunk = s_begin; chunk < s_end; chunk += pending_capacity) {
        size_t pending_count = 0;
        for_each_draw(path, key, within_block_counters, extra_words_bit | within_block_extra_bit, block_weight, chunk,
                      std::min(s_end, chunk + pending_capacity), [&](uint64_t, uint64_t v) {
                        if (v < uniform_weight) {
                          ++out[by_smoothing(v)];
                          return;
                        }
                        pending[pending_count++] = v - uniform_weight;
                      });
        if (pending_count == 0) continue;
        if (searched == 0) {
          const uint64_t* magnitude = local.magnitude.data();
          if (cat.source == nullptr)
            magnitude = cat.magnitude.data() + begin;
          else
            cat.source->fill(begin, size, local.magnitude.data());
          running_sums_on(path, magnitude, size, cumulative);
        }
        searched += pending_count;
        if (guide_shift < 0 && searched >= size / searches_per_table)
          guide_shift = build_lookup(path, cumulative, size, magnitude_weight, guide_bits, local.guide);
        if (guide_shift < 0) {
          for (size_t k = 0; k < pending_count; ++k) ++out[search_entry(cumulative, size, pending[k])];
          continue;
        }
        for (size_t k = 0; k < pending_count; ++k)
          ++out[find_entry(cumulative, local.guide.data(), guide_shift, pending[k])];
      }
      if (sink_now) sink->block(begin, size, out);
    }
  });
  if (sink_now) return;
  // every process's blocks on every process
  shares_.gather(counts, group,
                 sink != nullptr ? std::span<const uint32_t>(block_trials_) : std::span<const uint32_t>());
  if (sink != nullptr) hand_over(*sink, d, counts);
}

void MultinomialSampler::hand_over(BlockCounts& sink, size_t d, std::span<const int32_t> counts) const {
  tbb::parallel_for(tbb::blocked_range<size_t>(0, block_trials_.size(), block_grain),
                    [&](const tbb::blocked_range<size_t>& r) {
                      for (size_t b = r.begin(); b != r.end(); ++b) {
                        const size_t begin = b * category_block;
                        sink.block(begin, std::min(category_block, d - begin),
                                   block_trials_[b] == 0 ? nullptr : counts.data() + begin);
                      }
                    });
}

}  // namespace zimt::optim
