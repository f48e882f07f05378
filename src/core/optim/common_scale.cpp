#include "zimt/optim/common_scale.hpp"

#include "zimt/numerics.hpp"
#include "zimt/optim/scale_by_factor.hpp"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/parallel_reduce.h>

#include <algorithm>
#include <atomic>

namespace zimt::optim {

namespace {

constexpr size_t grain = 16384;

// The OR of all |g_i|: it has the bit length of max |g_i|, which is all the
// scale choice needs, and it reduces without branches. Chosen by hand, not
// by target_clones: a function of internal linkage would get its clone
// resolved while the program loads, before a sanitizer's runtime is up.
[[gnu::always_inline]] inline uint64_t abs_or_block(const int64_t* g, size_t size) {
  uint64_t m = 0;
  for (size_t i = 0; i < size; ++i) m |= abs_u64(g[i]);
  return m;
}

__attribute__((target("avx2"))) uint64_t abs_or_avx2(const int64_t* g, size_t size) { return abs_or_block(g, size); }

uint64_t abs_or_generic(const int64_t* g, size_t size) { return abs_or_block(g, size); }

uint64_t abs_or_range(const int64_t* g, size_t size) {
  static const bool avx2 = __builtin_cpu_supports("avx2");
  return avx2 ? abs_or_avx2(g, size) : abs_or_generic(g, size);
}

uint64_t abs_or(const GradientSlice& s) {
  return tbb::parallel_reduce(
      tbb::blocked_range<size_t>(0, s.size, grain), uint64_t{0},
      [&](const tbb::blocked_range<size_t>& r, uint64_t m) { return m | abs_or_range(s.g + r.begin(), r.size()); },
      [](uint64_t a, uint64_t b) { return a | b; });
}

// round-half-even(value * 2^shift) for value < 2^127, the result known to fit.
uint64_t rescale(u128 value, int64_t shift) {
  if (value == 0) return 0;  // its shift may be any size
  // On the chosen scale a nonzero result fits 64 bits (shift < 64); a shift
  // of 128 or more comes only from a guessed scale, whose sums are discarded.
  if (shift >= 128) return 0;
  if (shift >= 0) return static_cast<uint64_t>(value << shift);
  return static_cast<uint64_t>(shift_round_even_u128(value, -shift));
}

// Entries [begin, end) of the concatenation, all within slice t, as
// scale_gradients defines them: sign and magnitude written to sign[0, end -
// begin) and magnitude[..] (with sum_only perhaps not: scratch then),
// magnitudes summed, |g| ORed.
ScaledSum scale_part(std::span<const GradientSlice> slices, const ScaledGradient& s, size_t t, size_t begin, size_t end,
                     uint64_t* mag, int8_t* sign, bool sum_only) {
  const ScaledGradient::SliceScale& plan = s.slice_scale[t];
  const int64_t* g_in = slices[t].g + (begin - plan.start);
  const size_t size = end - begin;
  const uint64_t k = s.factor;
  if (plan.folded)
    return scale_by_power_of_two_on(best_scale_path(), g_in, sign, mag, size, static_cast<int>(plan.shift));
  if (plan.shift < 0 && plan.shift > -128) {
    const int right = static_cast<int>(-plan.shift);
    if (sum_only) return sum_scaled_by_factor_on(best_scale_path(), g_in, size, k, right);
    return scale_by_factor_on(best_scale_path(), g_in, sign, mag, size, k, right);
  }
  ScaledSum partial;
  for (size_t i = 0; i < size; ++i) {
    const int64_t g = g_in[i];
    sign[i] = static_cast<int8_t>((g > 0) - (g < 0));
    mag[i] = rescale(static_cast<u128>(abs_u64(g)) * k, plan.shift);
    partial.sum += mag[i];
    partial.abs_or |= abs_u64(g);
  }
  return partial;
}

// scale_part over [begin, end), which may span slices; t is a slice at or
// before the one holding begin (advanced past empty ones), updated to the
// last. With slice_or, each part's OR of |g_i| is added to its slice's (in
// the same pass: one read of the gradients).
uint64_t scale_range(std::span<const GradientSlice> slices, const ScaledGradient& s, size_t& t, size_t begin,
                     size_t end, uint64_t* mag, int8_t* sign, bool sum_only = false, uint64_t* slice_or = nullptr) {
  const std::vector<ScaledGradient::SliceScale>& plan = s.slice_scale;
  uint64_t sum = 0;
  for (size_t pos = begin; pos < end;) {
    while (plan[t + 1].start <= pos) ++t;  // the slice holding pos (empty ones skipped)
    const size_t part_end = std::min(end, plan[t + 1].start);
    const ScaledSum part = scale_part(slices, s, t, pos, part_end, mag + (pos - begin), sign + (pos - begin), sum_only);
    if (slice_or != nullptr) std::atomic_ref<uint64_t>(slice_or[t]).fetch_or(part.abs_or, std::memory_order_relaxed);
    sum += part.sum;
    pos = part_end;
  }
  return sum;
}

// scale_exp from the slices' largest |g_i| (ScaledGradient::slice_or): the
// largest term's bit length, as an exponent (term < 2^top), less the budget.
int64_t choose_scale(std::span<const GradientSlice> slices, uint64_t k, uint64_t c, const ScaledGradient& out) {
  bool any = c != 0;
  int64_t top = c != 0 ? bit_width_u64(c) - 32 : 0;
  for (size_t t = 0; t < slices.size(); ++t) {
    const uint64_t max_bits = out.slice_or[t];
    if (max_bits == 0 || k == 0) continue;
    const int64_t slice_top = int64_t{bit_width_u64(max_bits)} + bit_width_u64(k) + slices[t].exp - 32;
    top = any ? std::max(top, slice_top) : slice_top;
    any = true;
  }
  return any ? top - out.budget_bits : 0;
}

// Per slice: where it starts in the concatenation and how its entries scale
// on the scale 2^scale_exp.
void plan_slices(std::span<const GradientSlice> slices, uint64_t k, int64_t scale_exp, ScaledGradient& out) {
  std::vector<ScaledGradient::SliceScale>& plan = out.slice_scale;
  plan.resize(slices.size() + 1);
  // A power-of-two factor (the authors' rule: k = 1) folds into the shift.
  const int64_t k_exp = k != 0 && (k & (k - 1)) == 0 ? __builtin_ctzll(k) : -1;
  size_t start = 0;
  for (size_t t = 0; t < slices.size(); ++t) {
    const int64_t shift = slices[t].exp - 32 - scale_exp;
    const int64_t folded = shift + k_exp;
    const bool fold = k_exp >= 0 && folded > -63 && folded < 64;
    plan[t] = {start, fold ? folded : shift, fold};
    start += slices[t].size;
  }
  plan[slices.size()] = {start, 0, false};
}

// One pass over the blocks of category_block entries (a block may span
// slices): their magnitude sums on out's plan, the entries stored, their
// signs alone or, on demand, neither (what is not stored written, where a
// kernel needs to, to a block of scratch in cache); with find_or, each
// slice's OR of |g_i| too (into out.slice_or, zeroed before; scale_range
// takes it in the same pass).
void sum_blocks(std::span<const GradientSlice> slices, size_t d, ScaledGradient& out, ScaledEntries entries,
                bool find_or) {
  const size_t blocks = out.block_sum.size();
  uint64_t* slice_or = find_or ? out.slice_or.data() : nullptr;
  tbb::parallel_for(
      tbb::blocked_range<size_t>(0, blocks, grain / category_block), [&](const tbb::blocked_range<size_t>& r) {
        uint64_t scratch_magnitude[category_block];
        int8_t scratch_sign[category_block];
        size_t t = 0;
        for (size_t b = r.begin(); b != r.end(); ++b) {
          const size_t begin = b * category_block, end = std::min(d, begin + category_block);
          uint64_t* mag = entries == ScaledEntries::stored ? out.magnitude.data() + begin : scratch_magnitude;
          int8_t* sign = entries != ScaledEntries::on_demand ? out.sign.data() + begin : scratch_sign;
          out.block_sum[b] =
              scale_range(slices, out, t, begin, end, mag, sign, entries == ScaledEntries::on_demand, slice_or);
        }
      });
}

}  // namespace

uint64_t scaled_entries(std::span<const GradientSlice> slices, const ScaledGradient& s, size_t begin, size_t size,
                        uint64_t* magnitude, int8_t* sign) {
  size_t t = 0;
  return scale_range(slices, s, t, begin, begin + size, magnitude, sign);
}

void scale_gradients(std::span<const GradientSlice> slices, q32 factor, q32 constant, ScaledGradient& out,
                     ScaledEntries entries) {
  size_t d = 0;
  for (const auto& s : slices) d += s.size;
  const bool stored = entries == ScaledEntries::stored;
  out.magnitude.resize(stored ? d : 0);
  out.sign.resize(entries != ScaledEntries::on_demand ? d : 0);
  out.budget_bits = 54 - bit_width_u64(d);

  const auto k = static_cast<uint64_t>(std::max<q32>(factor, 0));
  out.factor = k;
  const auto c = static_cast<uint64_t>(std::max<q32>(constant, 0));
  const size_t blocks = (d + category_block - 1) / category_block;
  out.block_sum.resize(blocks);
  out.slice_or.resize(slices.size());
  // The scale needs every slice's largest |g_i| before any entry is rounded.
  // Stored entries: a pass for those, then one that scales. Otherwise
  // (magnitudes on demand): the block sums are formed on the last call's
  // scale in the same pass that finds the largest |g_i| (the scale rarely
  // changes from one step to the next: 4 times in 300 steps of the CNN), and
  // formed again only if the scale turns out different; the result is the
  // same either way.
  const int64_t guess = out.scale_exp;
  if (stored) {
    for (size_t t = 0; t < slices.size(); ++t) out.slice_or[t] = abs_or(slices[t]);
  } else {
    std::fill(out.slice_or.begin(), out.slice_or.end(), 0);
    plan_slices(slices, k, guess, out);
    sum_blocks(slices, d, out, entries, true);
  }
  out.scale_exp = choose_scale(slices, k, c, out);
  out.constant = rescale(c, -32 - out.scale_exp);
  if (stored || out.scale_exp != guess) {
    plan_slices(slices, k, out.scale_exp, out);
    sum_blocks(slices, d, out, entries, false);
  }
  uint64_t sum = 0;
  for (uint64_t s : out.block_sum) sum += s;
  out.magnitude_sum = sum;
}

}  // namespace zimt::optim
