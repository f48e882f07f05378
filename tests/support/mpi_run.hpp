#pragma once
// Running the real `zimt` binary under mpirun from tests (docs/distributed.md).
#include "cli_run.hpp"

#include <string>

namespace zimt::test {

// The shell command `mpirun -np ranks zimt <args>`: allowed as root and
// oversubscribed (CI machines have fewer cores than the tests start ranks).
std::string mpirun_command(int ranks, const std::string& args);

// Runs mpirun_command(ranks, args): exit code and combined output.
CliResult run_zimt_mpi(int ranks, const std::string& args);

}  // namespace zimt::test
