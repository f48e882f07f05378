#pragma once
// The processes an MPI launcher started together with this one
// (docs/distributed.md): `mpirun -np N zimt train` and `mpirun -np K zimt sweep`.
#include "zimt/runs/process_group.hpp"

#include <exception>
#include <memory>

namespace zimt::cli {

// The launched group, or nullptr when this process runs alone: started
// without a launcher, or zimt built without MPI (-DZIMT_MPI=OFF).
std::unique_ptr<runs::ProcessGroup> join_launched_group();

// Prints "zimt: error on rank R of N: <what>" and ends every process of the
// group with exit code 1.
void abort_group(const runs::ProcessGroup& group, const std::exception& error);

}  // namespace zimt::cli
