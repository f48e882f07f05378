#pragma once
// A bump allocator for activations, error signals and scratch of one step.
// alloc() hands out 64-byte aligned blocks that stay valid until reset();
// their contents are unspecified (the layers write every element of what
// they are given: tensor.hpp), since clearing them cost up to a tenth of a
// training step. reset() keeps the memory (merged into one block) so a
// training loop allocates only during its first step.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <span>
#include <type_traits>
#include <vector>

#include "zimt/tensor.hpp"

namespace zimt {

class Arena {
 public:
  explicit Arena(size_t initial_bytes = 0) {
    if (initial_bytes > 0) add_block(initial_bytes);
  }

  template <class T>
  T* alloc(size_t count) {
    return static_cast<T*>(alloc_bytes(count * sizeof(T)));
  }

  // Frees everything allocated so far (the memory is kept for reuse).
  void reset();

  size_t bytes_in_use() const { return in_use_; }

 private:
  struct Block {
    std::unique_ptr<std::byte[]> mem;
    size_t size = 0;
    size_t used = 0;
  };
  void* alloc_bytes(size_t bytes);
  void add_block(size_t bytes);

  std::vector<Block> blocks_;
  size_t in_use_ = 0;
  size_t high_water_ = 0;
};

// A tensor of the given shape from the arena, contents and exponents
// unspecified: the layer that fills it writes them all.
template <class T>
Tensor<T> make_tensor(Arena& arena, Shape shape) {
  Tensor<T> t;
  t.shape = shape;
  t.data = arena.alloc<T>(static_cast<size_t>(shape.numel()));
  t.exp = arena.alloc<int32_t>(static_cast<size_t>(shape[0]));
  return t;
}

// `count` value-initialised objects from the arena (the views of a step:
// ModelActs). The arena runs no destructors, so T must need none.
template <class T>
std::span<T> make_array(Arena& arena, size_t count) {
  static_assert(std::is_trivially_destructible_v<T>, "the arena runs no destructors");
  static_assert(alignof(T) <= 64, "the arena aligns to 64 bytes");
  T* p = arena.alloc<T>(count);
  for (size_t i = 0; i < count; ++i) new (p + i) T();
  return {p, count};
}

// An activation of the given width and shape from the arena (as make_tensor).
inline Activation make_activation(Arena& arena, ActivationWidth width, Shape shape) {
  if (width == ActivationWidth::int8) return make_tensor<int8_t>(arena, shape);
  return make_tensor<int16_t>(arena, shape);
}

}  // namespace zimt
