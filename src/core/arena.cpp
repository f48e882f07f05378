#include "zimt/arena.hpp"

#include <cstring>

namespace zimt {

namespace {
constexpr size_t kAlign = 64;
constexpr size_t round_up(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }
}  // namespace

void Arena::add_block(size_t bytes) {
  Block b;
  b.size = round_up(bytes) + kAlign;  // room to align the start
  // Cleared once, in order, when created: measured faster than leaving the
  // block's first touch to the step's scattered writes (ResNet-18's forward
  // 2.5 ms slower per step at 1 thread on a 2-core Zen 5).
  b.mem = std::make_unique<std::byte[]>(b.size);
  blocks_.push_back(std::move(b));
}

void* Arena::alloc_bytes(size_t bytes) {
  const size_t need = round_up(bytes == 0 ? 1 : bytes);
  if (blocks_.empty() || blocks_.back().used + need + kAlign > blocks_.back().size)
    add_block(need > (size_t{1} << 20) ? need : (size_t{1} << 20));
  Block& b = blocks_.back();
  const auto base = reinterpret_cast<uintptr_t>(b.mem.get());
  const uintptr_t aligned = (base + kAlign - 1) / kAlign * kAlign;
  std::byte* p = reinterpret_cast<std::byte*>(aligned) + b.used;
  b.used += need;
  in_use_ += need;
  if (in_use_ > high_water_) high_water_ = in_use_;
#ifndef NDEBUG
  // Contents are unspecified; debug builds make them a pattern, not zeros, so
  // that a reader of values nobody wrote shows up in the tests.
  std::memset(p, 0x5A, need);
#endif
  return p;
}

void Arena::reset() {
  if (blocks_.size() > 1) {  // merge: one block large enough for the last step
    blocks_.clear();
    add_block(high_water_);
  }
  for (Block& b : blocks_) b.used = 0;
  in_use_ = 0;
}

}  // namespace zimt
