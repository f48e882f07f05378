#include "mpi_run.hpp"

#include <sys/wait.h>

#include <array>
#include <cstdio>

namespace zimt::test {

std::string mpirun_command(int ranks, const std::string& args) {
  return "'" ZIMT_MPIEXEC "' --allow-run-as-root --oversubscribe -np " + std::to_string(ranks) + " '" ZIMT_CLI "' " +
         args;
}

CliResult run_zimt_mpi(int ranks, const std::string& args) {
  const std::string command = mpirun_command(ranks, args) + " 2>&1";
  CliResult result;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return result;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) result.output.append(buf.data(), n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

}  // namespace zimt::test
