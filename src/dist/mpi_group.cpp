#include "zimt/dist/mpi_group.hpp"

#include <mpi.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <vector>

namespace zimt::dist {

bool launched_by_mpi() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE"})
    if (std::getenv(name) != nullptr) return true;
  return false;
}

class MpiGroup::Reducer final : public BatchReducer {
 public:
  Reducer(int rank, int size) : rank_(rank), size_(size) {}

  // One all-gather of every process's (samples, min, max), combined alike on each.
  BatchExtent combine(const BatchExtent& local) const override {
    const std::array<int64_t, 3> mine = {local.samples, local.min_exp, local.max_exp};
    std::vector<int64_t> all(static_cast<size_t>(size_) * 3);
    MPI_Allgather(mine.data(), 3, MPI_INT64_T, all.data(), 3, MPI_INT64_T, MPI_COMM_WORLD);
    BatchExtent whole;
    for (int r = 0; r < size_; ++r) {
      const int64_t* e = all.data() + static_cast<size_t>(r) * 3;
      whole.samples += e[0];
      whole.min_exp = std::min(whole.min_exp, static_cast<int32_t>(e[1]));
      whole.max_exp = std::max(whole.max_exp, static_cast<int32_t>(e[2]));
    }
    return whole;
  }

  // Integer addition is associative: any reduction order MPI picks gives the same sums.
  void sum(int64_t* values, int64_t count) const override {
    for (int64_t done = 0; done < count; done += kSumChunk) {
      const int n = static_cast<int>(std::min<int64_t>(kSumChunk, count - done));
      MPI_Allreduce(MPI_IN_PLACE, values + done, n, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
    }
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }

  // MPI_Allgatherv in place: process r's part starts at ends[r - 1].
  void gather(int32_t* values, std::span<const int64_t> ends) const override {
    if (ends.size() != static_cast<size_t>(size_)) throw std::invalid_argument("gather: one end per process needed");
    if (ends.back() > INT32_MAX) throw std::length_error("gather: more than 2^31 - 1 values");
    std::vector<int> sizes(ends.size()), starts(ends.size());
    int64_t start = 0;
    for (size_t r = 0; r < ends.size(); ++r) {
      starts[r] = static_cast<int>(start);
      sizes[r] = static_cast<int>(ends[r] - start);
      start = ends[r];
    }
    MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, values, sizes.data(), starts.data(), MPI_INT32_T,
                   MPI_COMM_WORLD);
  }

 private:
  int rank_;
  int size_;
};

MpiGroup::MpiGroup() {
  int provided = 0;
  MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
  MPI_Comm node;  // the processes that share this machine's memory
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node);
  MPI_Comm_size(node, &local_size_);
  MPI_Comm_free(&node);
  reducer_ = std::make_unique<Reducer>(rank_, size_);
}

MpiGroup::~MpiGroup() { MPI_Finalize(); }

const BatchReducer& MpiGroup::reducer() const { return *reducer_; }

void MpiGroup::broadcast(std::string& bytes) const {
  uint64_t size = bytes.size();
  MPI_Bcast(&size, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
  bytes.resize(size);
  for (uint64_t done = 0; done < size; done += kSumChunk) {
    const int n = static_cast<int>(std::min<uint64_t>(kSumChunk, size - done));
    MPI_Bcast(bytes.data() + done, n, MPI_CHAR, 0, MPI_COMM_WORLD);
  }
}

void MpiGroup::barrier() const { MPI_Barrier(MPI_COMM_WORLD); }

void MpiGroup::abort(int code) const {
  MPI_Abort(MPI_COMM_WORLD, code);
  std::abort();  // MPI_Abort does not return; this states it to the compiler
}

}  // namespace zimt::dist
