#pragma once
// MPI_COMM_WORLD as the group of processes that train one run together or
// share one sweep (docs/distributed.md). zimt_dist, built with -DZIMT_MPI=ON,
// is the only library that includes mpi.h.
#include "zimt/runs/process_group.hpp"

#include <memory>
#include <string>

namespace zimt::dist {

// Whether an MPI launcher (mpirun, mpiexec, srun) started this process: its
// environment (OMPI_COMM_WORLD_SIZE, PMIX_RANK or PMI_SIZE) is set. A
// process started otherwise runs alone and never initialises MPI.
bool launched_by_mpi();

// MPI initialised on construction (one per process; only the constructing
// thread calls MPI), finalised on destruction. Reductions are exact: int64
// sums and min/max of integers, in chunks of kSumChunk values; the draw's
// counts are all-gathered as int32 (MPI_Allgatherv). Every error of
// MPI ends the whole job (MPI's default error handler), so does a process
// that dies (the launcher ends the others and names the rank).
class MpiGroup final : public runs::ProcessGroup {
 public:
  static constexpr int kSumChunk = 1 << 20;  // int64 values per all-reduce call: 8 MiB

  MpiGroup();
  ~MpiGroup() override;
  MpiGroup(const MpiGroup&) = delete;
  MpiGroup& operator=(const MpiGroup&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_size() const override { return local_size_; }
  const BatchReducer& reducer() const override;
  void broadcast(std::string& bytes) const override;
  [[noreturn]] void abort(int code) const override;
  // Every process waits until all have arrived (collective).
  void barrier() const;

 private:
  class Reducer;
  int rank_ = 0;
  int size_ = 1;
  int local_size_ = 1;
  std::unique_ptr<Reducer> reducer_;
};

}  // namespace zimt::dist
