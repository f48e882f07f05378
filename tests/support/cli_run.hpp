#pragma once
// Running the real `zimt` binary from tests: exit code and combined output.
#include <filesystem>
#include <string>

namespace zimt::test {

struct CliResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr, interleaved
};

// Runs a /bin/sh command line, stderr joined to stdout; a death by signal S
// gives exit code 128 + S, as the shell reports it.
CliResult run_shell(const std::string& command);

// Runs `ZIMT_CLI <args>` through /bin/sh in `cwd` (args are passed as written:
// quote paths with spaces yourself).
CliResult run_zimt(const std::string& args, const std::filesystem::path& cwd = std::filesystem::current_path());

// A fresh directory under the system temp dir, removed with the object.
struct ScratchDir {
  std::filesystem::path path;
  explicit ScratchDir(const std::string& tag);
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
};

std::string read_text(const std::filesystem::path& path);

}  // namespace zimt::test
