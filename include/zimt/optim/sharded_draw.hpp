#pragma once
// The ZIM sampler's draw (zim.hpp) split over the processes of a
// data-parallel run (batch_reducer.hpp, docs/distributed.md). Every process
// holds the same gradients; instead of each drawing the whole update, each
// draws a share and the shares are exchanged:
//   stage 1: process r draws trials [n r / N, n (r + 1) / N) (each trial
//            reads its own Philox word, so the split changes no trial); the
//            per-block trial counts N_b are then summed over the processes;
//   stage 2: process r draws the categories of a run of consecutive blocks,
//            the runs balanced by N_b + 1 (each block's positions are keyed
//            by Q_b, the same on every process once N_b is summed);
//   gather:  every process receives every other's counts, so all apply the
//            same update.
// The counts equal the single-process draw's for any number of processes;
// alone (single_process()) every share is the whole draw and nothing is
// exchanged.
//
// Exchange format: each process sends its block run's counts either whole
// (one int32 per category) or as (offset, count) pairs of its nonzero
// counts, whichever has fewer words: whole when at least half of them are
// nonzero (the authors' rule at n = d, about 63 %), pairs otherwise (the
// zero-inflated rule, where most trials land in the zero category). The
// number of words per process is all-gathered first; when every process
// sends its counts whole they are gathered in place.
#include "zimt/batch_reducer.hpp"

#include <cstdint>
#include <span>
#include <vector>

namespace zimt::optim {

// Indices [begin, end).
struct IndexRange {
  uint64_t begin = 0;
  uint64_t end = 0;
};

// Process `rank`'s share of `count` items split over `size` processes: sizes
// differing by at most one, concatenated in rank order they are [0, count).
IndexRange process_share(uint64_t count, int rank, int size);

class DrawShares {
 public:
  // The stage-1 trials of this process among n.
  IndexRange trials(int64_t n, const BatchReducer& group) const;
  // Sums block_trials (N_b, each process's counts of its own trials) over
  // the processes in place, then splits the blocks of `categories`
  // categories into runs; returns this process's run of blocks.
  IndexRange blocks(std::span<uint32_t> block_trials, size_t categories, const BatchReducer& group);
  // counts of every process's blocks (as split by the last blocks()) on
  // every process; each process has filled in its own. With drew (N_b of
  // every block), only the blocks that drew a trial are read and written
  // (others may hold anything, and are then sent as they are or not at all).
  void gather(std::span<int32_t> counts, const BatchReducer& group, std::span<const uint32_t> drew = {});
  // The int32 words each process sent in the last gather (none alone).
  std::span<const int32_t> word_counts() const { return word_counts_; }

  // Encodes one process's counts as sent (whole, or (offset, count) pairs
  // when that is fewer words) into out, which it resizes. counts start at a
  // block boundary; with drew (their blocks' N_b), pairs are taken only from
  // the blocks that drew a trial.
  static void encode(std::span<const int32_t> counts, std::vector<int32_t>& out, std::span<const uint32_t> drew = {});
  // Decodes one process's words (encode) into its counts: all overwritten,
  // or with drew only the blocks that drew a trial (whole words: all).
  static void decode(std::span<const int32_t> words, std::span<int32_t> counts, std::span<const uint32_t> drew = {});

 private:
  std::vector<int64_t> block_sums_;    // N_b widened for the sum over the processes
  std::vector<uint64_t> first_block_;  // each process's first block, then the number of blocks
  std::vector<int64_t> count_ends_;    // end of each process's counts (category index)
  std::vector<int64_t> process_ends_;  // 1, 2, .., N: one value per process
  std::vector<int32_t> word_counts_;   // each process's number of words
  std::vector<int64_t> word_ends_;     // end of each process's words
  std::vector<int32_t> words_;         // every process's words
  std::vector<int32_t> mine_;          // this process's words
};

}  // namespace zimt::optim
