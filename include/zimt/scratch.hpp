#pragma once
// Per-thread scratch for the bodies of parallel loops (im2col patches,
// int64 accumulators, transposed weights): thread_scratch<T>(slot, count) is
// the calling thread's buffer number `slot`, grown to at least `count`
// elements and kept for the thread's lifetime. A buffer that grows takes the
// size of the largest request of its slot by any thread so far: the threads
// share a loop's bodies differently at every step, and so a thread that runs
// in a later step a body that only another thread ran in the first usually
// finds its buffer large enough. A training loop thus allocates scratch
// while its shapes are new (its first step).
// Contents are unspecified on return (not zeroed): the caller writes before
// it reads.
//
// Slots: a loop body may hold several buffers at once, one per slot. A
// buffer stays valid until the same thread asks for the same slot again, so
//   - a body must not run a nested parallel loop while it holds a buffer
//     (the thread could run another body that asks for the same slot);
//   - the thread that starts a parallel loop takes part in it, so a buffer
//     it holds across the loop uses a slot no body of that loop asks for
//     (the ScratchSlot names below keep the two apart).
#include <cstddef>
#include <cstdint>

namespace zimt {

enum class ScratchSlot : uint8_t {
  body0,    // inside parallel loop bodies
  body1,    //
  body2,    //
  body3,    //
  caller0,  // held by the thread that starts a parallel loop, across it
  caller1,  //
  caller2,  //
  caller3,  //
  caller4,  //
  count
};

// At least `bytes` bytes, 64-byte aligned.
void* thread_scratch_bytes(ScratchSlot slot, size_t bytes);

// Counts `bytes` as a request of `slot` without taking a buffer: a loop
// whose bodies' scratch depends on the data (which of two ways it runs)
// announces both, so that a thread's next growth covers either.
void thread_scratch_expect(ScratchSlot slot, size_t bytes);

template <class T>
T* thread_scratch(ScratchSlot slot, int64_t count) {
  return static_cast<T*>(thread_scratch_bytes(slot, static_cast<size_t>(count) * sizeof(T)));
}

}  // namespace zimt
