#pragma once
// What a training step needs from the other processes when its global batch
// is split across several (data-parallel training, src/dist): the
// batch-wide quantities a result depends on, and the pieces of the
// optimizer's draw that each process samples for all (sharded_draw.hpp). A
// process that holds the whole batch uses single_process(), whose
// reductions are the identity.
//
// Why the split is exact: gradients are integer sums over samples, and an
// integer sum does not depend on how its terms are grouped. Each process
// aligns its samples to the exponent the whole batch would use (align_batch
// combines the BatchExtent of every process's samples first), scales the
// loss by the global batch size (softmax_ce_backward), and the processes'
// int64 partial sums then add up to the single-process gradient exactly
// (docs/distributed.md).
#include <cstdint>
#include <limits>
#include <span>

namespace zimt {

// What align_batch needs of a batch: its sample count and the range of its
// sample exponents. The default is the extent of no sample (neutral for
// combining: min of nothing is +max, max of nothing is -max).
struct BatchExtent {
  int64_t samples = 0;
  int32_t min_exp = std::numeric_limits<int32_t>::max();
  int32_t max_exp = std::numeric_limits<int32_t>::min();
};

// The extent of `batch` samples with exponents sample_exp[0..batch).
BatchExtent batch_extent(const int32_t* sample_exp, int64_t batch);

// The processes sharing one global batch. Every process calls the same
// reductions in the same order (they are collective); each returns the same
// result on every process.
class BatchReducer {
 public:
  virtual ~BatchReducer() = default;
  // The extent of the whole batch: samples summed, exponents min / max.
  virtual BatchExtent combine(const BatchExtent& local) const = 0;
  // values[0..count) summed element-wise over the processes, in place.
  virtual void sum(int64_t* values, int64_t count) const = 0;
  // This process, 0 .. size() - 1, among size() processes.
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // An all-gather in place: process r holds values[ends[r - 1], ends[r])
  // (ends[-1] = 0; ends has size() entries, ends[size() - 1] < 2^31) and
  // afterwards every process holds every process's part.
  virtual void gather(int32_t* values, std::span<const int64_t> ends) const = 0;
};

// The process alone: holds the whole batch and every part of a draw; its
// reductions and its gather are the identity.
const BatchReducer& single_process();

}  // namespace zimt
