#include "zimt/data_order.hpp"

#include "zimt/rng.hpp"

#include <numeric>
#include <utility>

namespace zimt {

std::vector<uint32_t> epoch_order(uint32_t n, uint64_t seed, uint64_t epoch, bool shuffle) {
  std::vector<uint32_t> order(n);
  std::iota(order.begin(), order.end(), uint32_t{0});
  if (!shuffle) return order;
  for (uint32_t i = n; i-- > 1;) {
    WordStream words(seed, Stream::shuffle, epoch, i);
    const auto j = static_cast<uint32_t>(uniform_below(uint64_t{i} + 1, words));
    std::swap(order[i], order[j]);
  }
  return order;
}

}  // namespace zimt
