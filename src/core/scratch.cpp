#include "zimt/scratch.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <memory>
#include <new>

namespace zimt {

namespace {

constexpr size_t kAlign = 64;
constexpr auto kSlots = static_cast<size_t>(ScratchSlot::count);

struct Buffer {
  std::unique_ptr<std::byte[]> mem;
  size_t size = 0;  // usable bytes from the aligned start
};

// The largest request of each slot by any thread so far.
std::array<std::atomic<size_t>, kSlots> g_largest{};

// Raises the slot's largest request to `bytes`; returns the new largest.
size_t note_request(size_t s, size_t bytes) {
  size_t largest = g_largest[s].load(std::memory_order_relaxed);
  while (largest < bytes && !g_largest[s].compare_exchange_weak(largest, bytes, std::memory_order_relaxed)) {
  }
  return std::max(largest, bytes);
}

}  // namespace

void thread_scratch_expect(ScratchSlot slot, size_t bytes) { note_request(static_cast<size_t>(slot), bytes); }

void* thread_scratch_bytes(ScratchSlot slot, size_t bytes) {
  thread_local std::array<Buffer, kSlots> buffers;
  const auto s = static_cast<size_t>(slot);
  const size_t largest = note_request(s, bytes);
  // A buffer grows to the largest request of its slot by any thread, so a
  // thread that first runs a larger loop body in a later step (the threads
  // share the bodies differently at every step) finds its buffer sized by
  // what the other threads ran in the first one; and by at least half, so
  // that slowly growing shapes reallocate rarely.
  Buffer& b = buffers[s];
  if (b.size < largest) {
    const size_t size = std::max(largest, b.size + b.size / 2);
    b.mem = std::make_unique_for_overwrite<std::byte[]>(size + kAlign);
    b.size = size;
  }
  void* p = b.mem.get();
  size_t space = b.size + kAlign;
  return std::align(kAlign, bytes, p, space);
}

}  // namespace zimt
