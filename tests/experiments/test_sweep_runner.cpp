// The sweep runner with a stand-in for `zimt train` (a shell script): failed
// runs are reported while the others finish, finished runs are skipped on a
// re-run, and SIGTERM reaches the children and stops the pool.
#include "zimt/experiments/sweep_files.hpp"
#include "zimt/experiments/sweep_runner.hpp"

#include <doctest/doctest.h>

#include <unistd.h>
#include <csignal>
#include <fstream>
#include <sstream>
#include <thread>

using nlohmann::json;
using namespace zimt::experiments;
namespace fs = std::filesystem;

namespace {

fs::path temp_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("zimt_test_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// Called as `fake train <rundir>/config.json --resume --quiet --set /train/threads=T`.
// Fails with exit 2 when the config asks for a negative n; otherwise writes a
// finished run directory. Counts its invocations in <rundir>/calls.
const char* kFakeTrain = R"(#!/bin/sh
dir=$(dirname "$2")
echo x >> "$dir/calls"
echo "args: $*"
if grep -q '"n": -1' "$2"; then echo "$2: 1 problem" >&2; echo "  /optimizer/n: must be > 0, got -1" >&2; exit 2; fi
cp "$2" "$dir/config.resolved.json"
echo '{"step":0,"epoch":0,"test_acc":0.5}' > "$dir/metrics.jsonl"
echo '{"status":"finished","final_test_acc":0.5}' > "$dir/summary.json"
echo "finished"
)";

json identity(const json& config, const std::string&) { return config; }
json no_file(const fs::path& p) { throw zimt::runs::ConfigInvalid(p.string(), {{"", "no files here"}}); }

int count_lines(const fs::path& p) {
  std::ifstream in(p);
  int n = 0;
  for (std::string line; std::getline(in, line);) ++n;
  return n;
}

}  // namespace

TEST_CASE("sweep runner: thread budget fills the cores without oversubscribing") {
  CHECK(thread_budget(0, 0, 8, 20).jobs == 8);
  CHECK(thread_budget(0, 0, 8, 20).threads_per_job == 1);
  CHECK(thread_budget(0, 0, 8, 3).jobs == 3);
  CHECK(thread_budget(0, 0, 8, 3).threads_per_job == 2);
  CHECK(thread_budget(2, 0, 8, 20).threads_per_job == 4);
  CHECK(thread_budget(0, 3, 8, 20).jobs == 2);
  CHECK(thread_budget(0, 0, 2, 0).jobs == 1);
  CHECK(thread_budget(5, 5, 2, 9).jobs == 5);  // explicit values are kept
}

TEST_CASE("sweep runner: a failing run is reported while the others finish, and finished runs are skipped") {
  const fs::path dir = temp_dir("sweep_runner");
  const fs::path fake = dir / "fake_zimt";
  std::ofstream(fake) << kFakeTrain;
  fs::permissions(fake, fs::perms::owner_all);
  const json doc = {
      {"base", {{"optimizer", {{"n", 4}}}, {"train", {{"seed", 0}, {"threads", 1}}}, {"output", {{"dir", ""}}}}},
      {"axes", {{"/optimizer/n", {4, -1, 8}}}},
      {"seeds", 2},
      {"output", (dir / "out").string()}};
  const SweepSpec spec = parse_sweep(doc, dir / "sweep.json", no_file, identity);
  const auto runs = expand_sweep(spec, identity);
  REQUIRE(runs.size() == 6);
  SweepRunOptions options{fake.string(), {2, 1}};

  std::ostringstream log;
  const SweepRunReport first = run_sweep(spec, runs, options, log);
  CHECK(first.succeeded == 4);
  CHECK(first.failed == 2);
  CHECK(first.skipped == 0);
  CHECK(first.stop_signal == 0);
  const std::string text = log.str();
  CHECK(text.find("FAILED n=-1-s1-") != std::string::npos);
  CHECK(text.find("(exit 2: /optimizer/n: must be > 0, got -1)") != std::string::npos);
  CHECK(text.find("done   n=8-s2-") != std::string::npos);
  CHECK(text.find("ETA") != std::string::npos);
  CHECK(fs::exists(spec.output / "plan.json"));
  for (const auto& r : runs) {
    const fs::path run_dir = spec.output / r.name;
    CHECK(json::parse(std::ifstream(run_dir / "config.json"))["output"]["dir"] == run_dir.string());
    CHECK(count_lines(run_dir / "calls") == 1);
    CHECK(run_state(r, run_dir) == (r.config["optimizer"]["n"] == -1 ? RunState::fresh : RunState::finished));
  }
  // The child got the documented command line.
  CHECK(sweep_files::read_all(spec.output / runs[0].name / "console.log")
            .find("args: train " + (spec.output / runs[0].name / "config.json").string() +
                  " --resume --quiet --set /train/threads=1") != std::string::npos);

  // Re-running skips the four finished runs and retries the failed two.
  std::ostringstream log2;
  const SweepRunReport second = run_sweep(spec, runs, options, log2);
  CHECK(second.skipped == 4);
  CHECK(second.failed == 2);
  for (const auto& r : runs)
    CHECK(count_lines(spec.output / r.name / "calls") == (r.config["optimizer"]["n"] == -1 ? 2 : 1));
  fs::remove_all(dir);
}

TEST_CASE("process pool: SIGTERM is forwarded to the children and no new job starts") {
  const fs::path dir = temp_dir("process_pool");
  std::vector<ProcessJob> jobs;
  for (int i = 0; i < 4; ++i) jobs.push_back({{"/bin/sleep", "30"}, dir / ("log" + std::to_string(i))});
  std::thread stopper([] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    ::kill(::getpid(), SIGTERM);
  });
  int started = 0;
  const auto t0 = std::chrono::steady_clock::now();
  const PoolResult result = run_processes(jobs, 2, {[&](std::size_t) { ++started; }, nullptr});
  stopper.join();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(result.stop_signal == SIGTERM);
  CHECK(started == 2);
  CHECK(seconds < 10);  // the sleeps (30 s) were cut short
  CHECK(result.outcomes[0].signal == SIGTERM);
  CHECK(result.outcomes[1].signal == SIGTERM);
  CHECK_FALSE(result.outcomes[2].started);
  CHECK(result.outcomes[2].describe() == "not started");
  fs::remove_all(dir);
}

TEST_CASE("process pool: exit codes and a program that cannot run") {
  const fs::path dir = temp_dir("process_pool_exit");
  const PoolResult r = run_processes({{{"/bin/sh", "-c", "exit 3"}, dir / "a"},
                                      {{"/nonexistent/zimt"}, dir / "b"},
                                      {{"/bin/sh", "-c", "kill -9 $$"}, dir / "c"},
                                      {{"/bin/true"}, dir / "d"}},
                                     3, {});
  CHECK(r.outcomes[0].describe() == "exit 3");
  CHECK(r.outcomes[1].exit_code == 127);
  CHECK(sweep_files::last_line(dir / "b") == "zimt: cannot execute the job's program");
  CHECK(r.outcomes[2].signal == 9);
  CHECK(r.outcomes[3].ok());
  fs::remove_all(dir);
}
