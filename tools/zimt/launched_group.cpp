#include "launched_group.hpp"

#include <iostream>

#if ZIMT_WITH_MPI
#include "zimt/dist/mpi_group.hpp"
#endif

namespace zimt::cli {

std::unique_ptr<runs::ProcessGroup> join_launched_group() {
#if ZIMT_WITH_MPI
  if (dist::launched_by_mpi()) return std::make_unique<dist::MpiGroup>();
#endif
  return nullptr;
}

void abort_group(const runs::ProcessGroup& group, const std::exception& error) {
  std::cerr << "zimt: error on rank " << group.rank() << " of " << group.size() << ": " << error.what() << std::endl;
  group.abort(1);
}

}  // namespace zimt::cli
