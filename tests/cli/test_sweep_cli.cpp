// `zimt sweep` end to end on the tiny generated dataset: the smoke sweep, a
// sweep killed mid-way and resumed (same per-run metrics as uninterrupted,
// timing fields aside), and a run with an impossible config value reported
// while the others finish.
#include "zimt/experiments/sweep_files.hpp"
#include "zimt/runs/metrics_log.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <csignal>
#include <fstream>
#include <sstream>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

using nlohmann::json;
namespace fs = std::filesystem;
using zimt::experiments::sweep_files::read_all;

namespace {

// Removes the work directory when the test process ends.
struct RemoveAtExit {
  fs::path dir;
  ~RemoveAtExit() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

// A working directory holding data/tiny/{train,test}.zds, made once per process.
const fs::path& workdir() {
  static RemoveAtExit cleanup;
  static const fs::path dir = [] {
    const fs::path d = fs::temp_directory_path() / ("zimt_test_sweep_cli_" + std::to_string(::getpid()));
    fs::remove_all(d);
    fs::create_directories(d / "data/tiny");
    const std::string cli = ZIMT_CLI;
    const std::string cmd =
        "cd '" + d.string() + "' && '" + cli +
        "' synth -o data/tiny/train.zds --samples 2000 --classes 4 --shape 1,12,12 --seed 1 >/dev/null && '" + cli +
        "' synth -o data/tiny/test.zds --samples 500 --classes 4 --shape 1,12,12 --seed 2 >/dev/null";
    cleanup.dir = d;
    REQUIRE(std::system(cmd.c_str()) == 0);
    return d;
  }();
  return dir;
}

// Runs zimt with `args` in the work directory; returns the exit code, output in `out`.
int run_zimt(const std::string& args, std::string* out = nullptr) {
  const fs::path log = workdir() / "last_output.txt";
  const std::string cmd =
      "cd '" + workdir().string() + "' && '" + ZIMT_CLI + "' " + args + " > '" + log.string() + "' 2>&1";
  const int status = std::system(cmd.c_str());
  if (out) *out = read_all(log);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

const std::string kSmoke = std::string(ZIMT_SOURCE_DIR) + "/configs/sweeps/smoke.json";

// metrics.jsonl without the fields that measure time.
std::vector<json> metrics_without_timing(const fs::path& path) {
  std::vector<json> out;
  std::istringstream lines(read_all(path));
  for (std::string line; std::getline(lines, line);) {
    json m = json::parse(line);
    for (const std::string& timing : zimt::runs::metrics_timing_columns()) m.erase(timing);
    out.push_back(std::move(m));
  }
  return out;
}

std::vector<std::string> run_names(const fs::path& sweep_dir) {
  std::vector<std::string> names;
  const json plan = json::parse(read_all(sweep_dir / "plan.json"));
  for (const json& r : plan["runs"]) names.push_back(r["name"]);
  return names;
}

// The smoke sweep, uninterrupted; run once and shared by the tests below.
const fs::path& reference_sweep() {
  static const fs::path dir = [] {
    const fs::path d = workdir() / "uninterrupted";
    std::string out;
    const int code = run_zimt("sweep '" + kSmoke + "' -o '" + d.string() + "' --jobs 2", &out);
    INFO(out);
    REQUIRE(code == 0);
    return d;
  }();
  return dir;
}

}  // namespace

TEST_CASE("sweep cli: the smoke sweep runs, reports, and a re-run skips everything") {
  const fs::path& dir = reference_sweep();
  const auto names = run_names(dir);
  REQUIRE(names.size() == 6);
  for (const std::string& name : names)
    CHECK(json::parse(read_all(dir / name / "summary.json"))["status"] == "finished");
  const std::string md = read_all(dir / "summary.md");
  CHECK(md.find("| zim-dense | 3/3 |") != std::string::npos);
  CHECK(md.find("| int_sgd-float | 3/3 |") != std::string::npos);
  const std::string svg = read_all(dir / "test_acc.svg");
  std::size_t series = 0;
  for (std::size_t at = svg.find("class=\"series\""); at != std::string::npos;
       at = svg.find("class=\"series\"", at + 1))
    ++series;
  CHECK(series == 2);
  std::string csv_header;
  std::getline(std::ifstream(dir / "aggregate.csv") >> std::ws, csv_header);
  CHECK(csv_header.find("group,step,epoch,n,") == 0);
  CHECK(csv_header.find("test_acc_mean,test_acc_std") != std::string::npos);

  std::string out;
  CHECK(run_zimt("sweep '" + kSmoke + "' -o '" + dir.string() + "'", &out) == 0);
  CHECK(out.find("6 runs, 6 already done, 0 to run") != std::string::npos);
  CHECK(run_zimt("sweep '" + kSmoke + "' -o '" + dir.string() + "' --dry-run", &out) == 0);
  CHECK(out.find("done   zim-dense-s1-") != std::string::npos);
  CHECK(run_zimt("report '" + dir.string() + "' --x epoch", &out) == 0);
  CHECK(out.find("| zim-dense | 3/3 |") != std::string::npos);
}

TEST_CASE("sweep cli: killed mid-way and resumed equals the uninterrupted sweep") {
  const fs::path& reference = reference_sweep();
  const fs::path dir = workdir() / "interrupted";
  std::fflush(stdout);  // the child must not repeat our buffered output
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    const fs::path log = workdir() / "interrupted.log";
    if (::chdir(workdir().c_str()) != 0 || !std::freopen(log.c_str(), "w", stdout)) ::_exit(126);
    ::execl(ZIMT_CLI, ZIMT_CLI, "sweep", kSmoke.c_str(), "-o", dir.c_str(), "--jobs", "1", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  // Wait until a run is part-way (some metrics, not finished), then stop the sweep.
  const auto names = run_names(reference);
  bool part_way = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!part_way && std::chrono::steady_clock::now() < deadline) {
    for (const std::string& name : names) {
      const std::string metrics = read_all(dir / name / "metrics.jsonl");
      const bool finished = read_all(dir / name / "summary.json").find("\"finished\"") != std::string::npos;
      if (!finished && std::count(metrics.begin(), metrics.end(), '\n') >= 3) part_way = true;
    }
    if (!part_way) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  REQUIRE(part_way);
  ::kill(pid, SIGTERM);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  INFO(read_all(workdir() / "interrupted.log"));
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 128 + SIGTERM);
  int finished_before = 0;
  for (const std::string& name : names)
    finished_before += read_all(dir / name / "summary.json").find("\"finished\"") != std::string::npos;
  CHECK(finished_before < 6);

  std::string out;
  REQUIRE(run_zimt("sweep '" + kSmoke + "' -o '" + dir.string() + "' --jobs 2", &out) == 0);
  CHECK(out.find("6 runs, " + std::to_string(finished_before) + " already done") != std::string::npos);
  for (const std::string& name : names) {
    INFO(name);
    const auto expected = metrics_without_timing(reference / name / "metrics.jsonl");
    CHECK(expected.size() >= 6);
    CHECK(metrics_without_timing(dir / name / "metrics.jsonl") == expected);
  }
}

TEST_CASE("sweep cli: a run with an impossible value fails, is reported, and the others finish") {
  const fs::path sweep = workdir() / "bad_axis.json";
  std::ofstream(sweep)
      << json({{"base", {{"base", std::string(ZIMT_SOURCE_DIR) + "/configs/tiny.json"}, {"train", {{"epochs", 1}}}}},
               {"axes", {{"/train/batch_size", {32, -5}}}},
               {"seeds", {1}},
               {"output", "bad_axis"}})
             .dump();
  std::string out;
  CHECK(run_zimt("sweep bad_axis.json --dry-run", &out) == 0);
  CHECK(out.find("invalid config") != std::string::npos);
  CHECK(run_zimt("sweep bad_axis.json", &out) == 1);
  INFO(out);
  CHECK(out.find("FAILED batch_size=-5-s1-") != std::string::npos);
  CHECK(out.find("exit 2") != std::string::npos);
  CHECK(out.find("/train/batch_size") != std::string::npos);  // the child's error names the pointer
  CHECK(out.find("| batch_size=32 | 1/1 |") != std::string::npos);
  CHECK(out.find("| batch_size=-5 | 0/1 |") != std::string::npos);
  CHECK(out.find("1 run(s) failed") != std::string::npos);
}

TEST_CASE("sweep cli: --memory-limit lowers the jobs that run at once, or refuses a run that cannot fit") {
  const fs::path dir = workdir() / "memory";
  std::string out;
  // A tiny run needs about 1.7 MiB (sweep_memory.hpp): two fit in 4 MiB.
  CHECK(run_zimt("sweep '" + kSmoke + "' -o '" + dir.string() + "' --dry-run -j 4 --memory-limit 4M", &out) == 0);
  CHECK_MESSAGE(out.find("2 jobs at once instead of 4") != std::string::npos, out);
  CHECK(out.find("(2 jobs x ") != std::string::npos);
  CHECK(run_zimt("sweep '" + kSmoke + "' -o '" + dir.string() + "' --dry-run -j 4 --memory-limit 1G", &out) == 0);
  CHECK(out.find("(4 jobs x ") != std::string::npos);
  CHECK(run_zimt("sweep '" + kSmoke + "' -o '" + dir.string() + "' -j 4 --memory-limit 1M", &out) == 1);
  CHECK_MESSAGE(out.find("over the memory limit of 1.0 MiB (--memory-limit)") != std::string::npos, out);
  CHECK_FALSE(fs::exists(dir));  // refused before anything is written
}

TEST_CASE("sweep cli: every shipped sweep file expands and validates (--dry-run)") {
  int files = 0;
  for (const auto& entry : fs::directory_iterator(fs::path(ZIMT_SOURCE_DIR) / "configs" / "sweeps")) {
    if (entry.path().extension() != ".json") continue;
    ++files;
    std::string out;
    const fs::path dir = workdir() / ("dry-" + entry.path().stem().string());
    CHECK_MESSAGE(run_zimt("sweep '" + entry.path().string() + "' --dry-run -o '" + dir.string() + "'", &out) == 0,
                  entry.path().filename().string() << ": " << out);
    CHECK(out.find(" to run ") != std::string::npos);
    CHECK_FALSE(fs::exists(dir));  // a dry run writes nothing
  }
  CHECK(files >= 5);
}
