#pragma once
// The processes that train one run together, each on its share of every
// global batch (data-parallel training, docs/distributed.md). The trainer
// sees them through this interface only; the MPI implementation lives in
// zimt_dist (include/zimt/dist/mpi_group.hpp), so zimt_runs builds without MPI.
#include "zimt/batch_reducer.hpp"

#include <cstdint>
#include <string>

namespace zimt::runs {

class ProcessGroup {
 public:
  virtual ~ProcessGroup() = default;
  // This process, 0 .. size() - 1; rank 0 writes the run directory.
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // The processes of the group on this machine (they share its cores).
  virtual int local_size() const = 0;
  // The step's batch-wide reductions over every process of the group.
  virtual const BatchReducer& reducer() const = 0;
  // Rank 0's `bytes` on every process (collective).
  virtual void broadcast(std::string& bytes) const = 0;
  // Ends every process of the group with exit code `code`: a process that
  // fails alone would leave the others waiting in a collective.
  [[noreturn]] virtual void abort(int code) const = 0;
};

// Rank `rank`'s share of `count` samples split over `ranks` processes:
// [first, first + size), sizes differing by at most one. Concatenated in rank
// order the shares are the whole batch.
struct Share {
  uint64_t first = 0;
  uint64_t size = 0;
};
inline Share share_of(uint64_t count, int rank, int ranks) {
  const uint64_t r = static_cast<uint64_t>(rank), n = static_cast<uint64_t>(ranks);
  const uint64_t begin = count * r / n, end = count * (r + 1) / n;
  return {begin, end - begin};
}

}  // namespace zimt::runs
