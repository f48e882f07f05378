#include "zimt/scratch.hpp"

#include <array>
#include <memory>
#include <new>

namespace zimt {

namespace {

constexpr size_t kAlign = 64;

struct Buffer {
  std::unique_ptr<std::byte[]> mem;
  size_t size = 0;  // usable bytes from the aligned start
};

}  // namespace

void* thread_scratch_bytes(ScratchSlot slot, size_t bytes) {
  thread_local std::array<Buffer, static_cast<size_t>(ScratchSlot::count)> buffers;
  Buffer& b = buffers[static_cast<size_t>(slot)];
  if (b.size < bytes) {
    // Grow by at least half, so that slowly growing shapes reallocate rarely.
    const size_t size = bytes > b.size + b.size / 2 ? bytes : b.size + b.size / 2;
    b.mem = std::make_unique_for_overwrite<std::byte[]>(size + kAlign);
    b.size = size;
  }
  void* p = b.mem.get();
  size_t space = b.size + kAlign;
  return std::align(kAlign, bytes, p, space);
}

}  // namespace zimt
