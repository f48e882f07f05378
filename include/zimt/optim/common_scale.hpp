#pragma once
// Gradients of several tensors brought onto one common fixed-point scale, as
// the ZIM rules need (docs/design.md, Update rules and Rounding).
//
// Input: slices of int64 gradient mantissas, slice t holding real values
// g * 2^exp_t, where exp_t = g_exp + w_exp is the exponent of the gradient
// with respect to the *integer* weight (under ZIM w_exp = 0, so this is
// dL/dw for the integer w and c = 1 is one unit of it).
//
// Output, for a non-negative Q32.32 `factor` k and a Q32.32 `constant` c:
//   magnitude[i] = round-half-even(|g_i| * 2^exp_t * k / 2^scale_exp)
//   sign[i]      = sign(g_i) of the exact mantissa (-1, 0, +1)
//   constant     = round-half-even(c / 2^scale_exp)
//
// Scale choice: scale_exp is the smallest exponent for which the largest term
// (the largest |g_i| k, or c) stays below 2^budget with budget = 54 - L, where
// 2^L > d is the number of entries. Hence every magnitude and the constant are
// <= 2^budget, the magnitude sum is <= d 2^budget < 2^54, and the sampler's
// totals (sum + d c, or max(sum, c)) stay below 2^55: no int64 sum can
// overflow, and Lemire's method on 64-bit words rejects with probability
// < 2^-9. The largest term keeps at least 53 - L significant bits (30 bits at
// d = 12 M, 34 at d = 421,642), so the absolute rounding error of any term is
// at most 2^(scale_exp - 1), below 2^-(54 - L) of the largest term.
//
// A nonzero gradient far below the largest one may round to magnitude 0; its
// sign still comes from the exact value (never 0), so under the authors' rule
// it keeps the smoothing weight c and still moves against its true sign.
// Exact zeros stay zero with sign 0. If every term is zero, scale_exp = 0.
//
// The magnitudes are also summed per block of category_block consecutive
// entries (block_sum), which the sampler's block table reads (zim.hpp).
#include "zimt/optim/q32.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace zimt::optim {

// Entries per block of ScaledGradient::block_sum, the sampler's category blocks.
inline constexpr int category_block_bits = 12;
inline constexpr size_t category_block = size_t{1} << category_block_bits;

struct GradientSlice {
  const int64_t* g = nullptr;
  size_t size = 0;
  int64_t exp = 0;  // real gradient = g * 2^exp
};

// Whether scale_gradients stores every entry's magnitude and sign, only the
// signs, or neither: only the block sums (the entries not stored then
// computed per block by scaled_entries).
enum class ScaledEntries : uint8_t { stored, signs, on_demand };

struct ScaledGradient {
  std::vector<uint64_t> magnitude;  // d entries, each <= 2^budget (empty unless stored)
  std::vector<int8_t> sign;         // d entries in {-1, 0, +1} (empty when on demand)
  std::vector<uint64_t>
      block_sum;               // ceil(d / category_block) entries: block b sums entries [b, b + 1) * category_block
  uint64_t magnitude_sum = 0;  // sum of magnitude (< 2^54)
  uint64_t constant = 0;       // c on the same scale (<= 2^budget)
  int64_t scale_exp = 0;       // real value = integer * 2^scale_exp
  int budget_bits = 0;         // 54 - L
  uint64_t factor = 0;         // k, the Q32.32 factor (negative taken as 0)
  // Scratch of scale_gradients, kept so that a step allocates nothing: per
  // slice, where it starts in the concatenation and how its entries scale.
  struct SliceScale {
    size_t start;
    int64_t shift;  // exponent of |g| k relative to the common scale
    bool folded;    // k is a power of two folded into shift, and -63 < shift < 64
  };
  std::vector<SliceScale> slice_scale;
  std::vector<uint64_t> slice_or;  // per slice, the OR of its |g_i| (its largest one's bit length)
};

// Fills `out` (magnitude and sign resized to the total slice length, or
// emptied where not stored). factor >= 0, constant >= 0. Unless every entry
// is stored, out's scale from the last call is tried first (one pass over
// the gradients when it holds, two when not); the result never depends on it.
void scale_gradients(std::span<const GradientSlice> slices, q32 factor, q32 constant, ScaledGradient& out,
                     ScaledEntries entries = ScaledEntries::stored);

// Entries [begin, begin + size) of the concatenation of `slices` as the last
// scale_gradients(slices, ..., s) defines them: magnitude and sign written
// to magnitude[0, size) and sign[0, size); returns the magnitudes' sum.
uint64_t scaled_entries(std::span<const GradientSlice> slices, const ScaledGradient& s, size_t begin, size_t size,
                        uint64_t* magnitude, int8_t* sign);

}  // namespace zimt::optim
