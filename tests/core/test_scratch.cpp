// Per-thread scratch (scratch.hpp): aligned buffers that keep their memory,
// and a thread's buffer sized by the largest request any thread made of the
// slot, so that taking over another thread's loop body allocates nothing.
#include "zimt/scratch.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <thread>

using namespace zimt;

TEST_CASE("scratch: 64-byte aligned, kept while requests do not grow") {
  void* a = thread_scratch_bytes(ScratchSlot::body2, 1000);
  CHECK(reinterpret_cast<uintptr_t>(a) % 64 == 0);
  std::memset(a, 1, 1000);  // usable for the bytes asked
  CHECK(thread_scratch_bytes(ScratchSlot::body2, 10) == a);
  CHECK(thread_scratch_bytes(ScratchSlot::body2, 1000) == a);
}

TEST_CASE("scratch: a thread's first buffer of a slot is as large as any thread's request of it") {
  constexpr size_t large = size_t{3} << 20;
  std::thread([] { std::memset(thread_scratch_bytes(ScratchSlot::caller3, large), 0, large); }).join();
  void* first = nullptr;
  void* later = nullptr;
  std::thread([&] {
    first = thread_scratch_bytes(ScratchSlot::caller3, 64);
    later = thread_scratch_bytes(ScratchSlot::caller3, large);  // served by the same buffer
    std::memset(later, 0, large);
  }).join();
  CHECK(first != nullptr);
  CHECK(first == later);
}
