// A process of a data-parallel run that dies (docs/distributed.md): the job
// must end promptly with an error naming the rank, never hang in a
// collective, and the run must resume from its last checkpoint to the
// single-process bytes.
#include "cli_run.hpp"
#include "dist_runs.hpp"
#include "mpi_run.hpp"
#include "tiny_run.hpp"
#include "zimt/runs/checkpoint.hpp"

#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <optional>
#include <thread>

namespace fs = std::filesystem;
using nlohmann::json;
using zimt::test::newest_weights;
using zimt::test::read_text;
using zimt::test::run_zimt;
using zimt::test::run_zimt_mpi;
using zimt::test::ScratchDir;
using zimt::test::write_run_config;

namespace {

using Clock = std::chrono::steady_clock;

// The process whose environment holds both `tag` and OMPI_COMM_WORLD_RANK=rank.
std::optional<pid_t> find_rank(const std::string& tag, int rank) {
  const std::string rank_entry = "OMPI_COMM_WORLD_RANK=" + std::to_string(rank);
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "environ", std::ios::binary);
    bool has_tag = false, has_rank = false;
    for (std::string var; std::getline(in, var, '\0');) {
      has_tag = has_tag || var == tag;
      has_rank = has_rank || var == rank_entry;
    }
    if (has_tag && has_rank) return static_cast<pid_t>(std::stol(name));
  }
  return std::nullopt;
}

// Waits up to `limit` for `pid` to exit; its wait status, or nullopt on timeout.
std::optional<int> wait_for(pid_t pid, std::chrono::seconds limit) {
  const auto end = Clock::now() + limit;
  while (Clock::now() < end) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) return status;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return std::nullopt;
}

}  // namespace

TEST_CASE("a rank killed mid-run ends the job within seconds naming it, and --resume completes the run") {
  ScratchDir dir("dist_kill");
  zimt::test::make_tiny_data(dir.path);
  // Long enough to be killed mid-way (80 steps per epoch).
  const json long_run = {{"train", {{"epochs", 50}}}, {"output", {{"checkpoint_every", 10}}}};
  const fs::path config = write_run_config(dir.path, "killed", "tiny", long_run);
  const fs::path log = dir.path / "mpirun.log";
  const std::string tag = "ZIMT_TEST_TAG=" + dir.path.string();

  const pid_t mpirun = ::fork();
  REQUIRE(mpirun >= 0);
  if (mpirun == 0) {
    ::putenv(const_cast<char*>(tag.c_str()));
    const std::string command = "exec " + zimt::test::mpirun_command(3, "train " + config.string() + " --quiet") +
                                " > '" + log.string() + "' 2>&1";
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  // Kill rank 1 once the run has written a checkpoint.
  const auto start = Clock::now();
  while (zimt::runs::list_checkpoints(dir.path / "killed" / "checkpoints").empty() &&
         Clock::now() - start < std::chrono::seconds(60))
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const std::optional<pid_t> rank1 = find_rank(tag, 1);
  if (!rank1) {
    ::kill(mpirun, SIGKILL);
    ::waitpid(mpirun, nullptr, 0);
    FAIL("rank 1 not found; mpirun output:\n" << read_text(log));
  }
  const auto killed_at = Clock::now();
  ::kill(*rank1, SIGKILL);
  const std::optional<int> status = wait_for(mpirun, std::chrono::seconds(30));
  const double seconds = std::chrono::duration<double>(Clock::now() - killed_at).count();
  if (!status) {
    ::kill(mpirun, SIGKILL);
    ::waitpid(mpirun, nullptr, 0);
  }
  REQUIRE_MESSAGE(status.has_value(), "the job still ran 30 s after rank 1 was killed");
  const std::string output = read_text(log);
  INFO("mpirun output:\n" << output);
  MESSAGE("the job ended " << seconds << " s after rank 1 was killed");
  CHECK(seconds < 10);
  CHECK_FALSE((WIFEXITED(*status) && WEXITSTATUS(*status) == 0));
  CHECK(output.find("rank 1") != std::string::npos);

  // The newest checkpoint is whole; the run resumes from it (on 2 processes)
  // to what one process computes for the same number of steps.
  const auto checkpoints = zimt::runs::list_checkpoints(dir.path / "killed" / "checkpoints");
  REQUIRE_FALSE(checkpoints.empty());
  const uint64_t resumed_from = zimt::runs::load_checkpoint(checkpoints.back()).state.step;
  const std::string stop = " --set /train/max_steps=" + std::to_string(resumed_from + 10);
  const auto resumed = run_zimt_mpi(2, "train " + config.string() + " --quiet --resume" + stop);
  REQUIRE_MESSAGE(resumed.exit_code == 0, resumed.output);
  const fs::path alone = write_run_config(dir.path, "alone", "tiny", long_run);
  const auto ref = run_zimt("train " + alone.string() + " --quiet" + stop);
  REQUIRE_MESSAGE(ref.exit_code == 0, ref.output);
  CHECK(newest_weights(dir.path / "killed") == newest_weights(dir.path / "alone"));
}
