#include "zimt/optim/sharded_draw.hpp"

#include "zimt/optim/common_scale.hpp"

#include <algorithm>
#include <stdexcept>

namespace zimt::optim {

IndexRange process_share(uint64_t count, int rank, int size) {
  const uint64_t r = static_cast<uint64_t>(rank), n = static_cast<uint64_t>(size);
  return {count * r / n, count * (r + 1) / n};
}

IndexRange DrawShares::trials(int64_t n, const BatchReducer& group) const {
  return process_share(static_cast<uint64_t>(n), group.rank(), group.size());
}

IndexRange DrawShares::blocks(std::span<uint32_t> block_trials, size_t categories, const BatchReducer& group) {
  const size_t blocks = block_trials.size();
  const auto size = static_cast<uint64_t>(group.size());
  if (size == 1) return {0, blocks};
  block_sums_.assign(block_trials.begin(), block_trials.end());
  group.sum(block_sums_.data(), static_cast<int64_t>(blocks));
  // Block b costs N_b + 1 (its trials, and its counts to clear and send);
  // process r takes the blocks b with r total <= (Q_b + b) N < (r + 1) total.
  uint64_t total = blocks;
  for (size_t b = 0; b < blocks; ++b) {
    block_trials[b] = static_cast<uint32_t>(block_sums_[b]);  // N_b <= n < 2^31
    total += block_trials[b];
  }
  first_block_.assign(size + 1, blocks);
  first_block_[0] = 0;
  uint64_t r = 1, before = 0;
  for (size_t b = 0; b < blocks; ++b) {
    for (; r < size && before * size >= r * total; ++r) first_block_[r] = b;
    before += uint64_t{block_trials[b]} + 1;
  }
  count_ends_.resize(size);
  for (uint64_t p = 0; p < size; ++p)
    count_ends_[p] = static_cast<int64_t>(std::min<uint64_t>(categories, first_block_[p + 1] * category_block));
  const auto rank = static_cast<size_t>(group.rank());
  return {first_block_[rank], first_block_[rank + 1]};
}

namespace {

// f(begin, end) for each block of category_block entries among counts'
// `size` that drew a trial (drew[b] != 0; every block when drew is empty).
template <class F>
void for_each_drawn_block(size_t size, std::span<const uint32_t> drew, F&& f) {
  for (size_t begin = 0, b = 0; begin < size; begin += category_block, ++b)
    if (drew.empty() || drew[b] != 0) f(begin, std::min(size, begin + category_block));
}

}  // namespace

void DrawShares::encode(std::span<const int32_t> counts, std::vector<int32_t>& out, std::span<const uint32_t> drew) {
  size_t nonzero = 0;
  for_each_drawn_block(counts.size(), drew, [&](size_t begin, size_t end) {
    nonzero += static_cast<size_t>(
        std::count_if(counts.begin() + begin, counts.begin() + end, [](int32_t x) { return x != 0; }));
  });
  if (2 * nonzero >= counts.size()) {
    out.assign(counts.begin(), counts.end());
    return;
  }
  out.resize(2 * nonzero);
  size_t w = 0;
  for_each_drawn_block(counts.size(), drew, [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i)
      if (counts[i] != 0) {
        out[w++] = static_cast<int32_t>(i);
        out[w++] = counts[i];
      }
  });
}

void DrawShares::decode(std::span<const int32_t> words, std::span<int32_t> counts, std::span<const uint32_t> drew) {
  if (words.size() == counts.size()) {
    std::copy(words.begin(), words.end(), counts.begin());
    return;
  }
  if (words.size() % 2 != 0 || words.size() > counts.size())
    throw std::invalid_argument("DrawShares: words are neither whole counts nor (offset, count) pairs");
  for_each_drawn_block(counts.size(), drew,
                       [&](size_t begin, size_t end) { std::fill(counts.begin() + begin, counts.begin() + end, 0); });
  for (size_t w = 0; w < words.size(); w += 2) counts[static_cast<size_t>(words[w])] = words[w + 1];
}

void DrawShares::gather(std::span<int32_t> counts, const BatchReducer& group, std::span<const uint32_t> drew) {
  const auto size = static_cast<size_t>(group.size());
  if (size == 1) return;
  const auto rank = static_cast<size_t>(group.rank());
  auto part = [&](size_t p) {
    const int64_t begin = p == 0 ? 0 : count_ends_[p - 1];
    return counts.subspan(static_cast<size_t>(begin), static_cast<size_t>(count_ends_[p] - begin));
  };
  auto part_drew = [&](size_t p) {
    return drew.empty() ? drew : drew.subspan(first_block_[p], first_block_[p + 1] - first_block_[p]);
  };
  encode(part(rank), mine_, part_drew(rank));
  process_ends_.resize(size);
  for (size_t p = 0; p < size; ++p) process_ends_[p] = static_cast<int64_t>(p) + 1;
  word_counts_.assign(size, 0);
  word_counts_[rank] = static_cast<int32_t>(mine_.size());
  group.gather(word_counts_.data(), process_ends_);
  bool all_whole = true;
  word_ends_.resize(size);
  int64_t words = 0;
  for (size_t p = 0; p < size; ++p) {
    all_whole = all_whole && static_cast<size_t>(word_counts_[p]) == part(p).size();
    words += word_counts_[p];
    word_ends_[p] = words;
  }
  if (all_whole) {
    group.gather(counts.data(), count_ends_);
    return;
  }
  words_.resize(static_cast<size_t>(words));
  const int64_t my_start = rank == 0 ? 0 : word_ends_[rank - 1];
  std::copy(mine_.begin(), mine_.end(), words_.begin() + my_start);
  group.gather(words_.data(), word_ends_);
  for (size_t p = 0; p < size; ++p) {
    if (p == rank) continue;
    const int64_t start = p == 0 ? 0 : word_ends_[p - 1];
    decode(std::span<const int32_t>(words_.data() + start, static_cast<size_t>(word_ends_[p] - start)), part(p),
           part_drew(p));
  }
}

}  // namespace zimt::optim
