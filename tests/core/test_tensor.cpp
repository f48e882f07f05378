#include <doctest/doctest.h>

#include <cstdint>

#include "zimt/arena.hpp"
#include "zimt/tensor.hpp"

using namespace zimt;

TEST_CASE("shape: numel, per-sample size, equality") {
  const Shape s{4, 3, 5, 7};
  CHECK(s.rank == 4);
  CHECK(s.numel() == 420);
  CHECK(s.sample_numel() == 105);
  CHECK(s == (Shape{4, 3, 5, 7}));
  CHECK_FALSE(s == (Shape{4, 105}));
  CHECK((Shape{6, 10}).sample_numel() == 10);
}

TEST_CASE("arena: aligned, reused after reset") {
  Arena arena;
  auto* a = arena.alloc<int8_t>(3);
  auto* b = arena.alloc<int64_t>(5);
  CHECK(reinterpret_cast<uintptr_t>(a) % 64 == 0);
  CHECK(reinterpret_cast<uintptr_t>(b) % 64 == 0);
  for (int i = 0; i < 5; ++i) b[i] = i;
  // A request larger than the first block forces a second block.
  auto* big = arena.alloc<int16_t>(size_t{1} << 20);
  big[(size_t{1} << 20) - 1] = 7;
  const size_t used = arena.bytes_in_use();
  arena.reset();  // merges the two blocks into one
  CHECK(arena.bytes_in_use() == 0);
  auto* c = arena.alloc<int64_t>(5);
  auto* big2 = arena.alloc<int16_t>(size_t{1} << 20);
  CHECK(reinterpret_cast<uintptr_t>(c) % 64 == 0);
  big2[(size_t{1} << 20) - 1] = 9;
  CHECK(arena.bytes_in_use() <= used);
  arena.reset();  // one block: the same memory again
  CHECK(arena.alloc<int64_t>(5) == c);
  CHECK(arena.alloc<int16_t>(size_t{1} << 20) == big2);
}

TEST_CASE("make_tensor and reshaped view the same storage") {
  Arena arena;
  Act t = make_tensor<int8_t>(arena, Shape{2, 3, 2, 2});
  t.sample(1)[0] = 5;
  t.exp[1] = -3;
  const Act f = reshaped(t, Shape{2, 12});
  CHECK(f.sample(1)[0] == 5);
  CHECK(f.exp[1] == -3);
  CHECK(f.data == t.data);
}
