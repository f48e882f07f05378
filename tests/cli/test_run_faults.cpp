// Faults while a run goes (docs/reliability.md): a second process on the same
// directory, a corrupt or truncated newest checkpoint, a full disk, signals,
// unusable output directories and missing data. Each must end in a clear
// error or a clean stop, never a crash, and leave a run that resumes to the
// uninterrupted result.
#include "cli_run.hpp"
#include "tiny_run.hpp"
#include "zimt/runs/checkpoint.hpp"
#include "zimt/runs/dir_lock.hpp"
#include "zimt/runs/metrics_log.hpp"

#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;
using nlohmann::json;
using zimt::test::CliResult;
using zimt::test::make_tiny_data;
using zimt::test::metrics_without_timing;
using zimt::test::read_text;
using zimt::test::run_zimt;

namespace {

// The tiny model's run for the fault tests: one epoch, evaluations and
// checkpoints every 10 steps, three checkpoints kept.
fs::path write_config(const fs::path& dir, const std::string& run, const json& extra = json::object()) {
  const json settings = {{"train", {{"epochs", 1}, {"eval_every", 10}, {"eval_samples", 100}}},
                         {"output", {{"checkpoint_every", 10}, {"keep_checkpoints", 3}}}};
  return zimt::test::write_tiny_config(dir, run, settings, extra);
}

// The weights of a run's newest checkpoint.
std::vector<int16_t> newest_weights(const fs::path& run) {
  const auto all = zimt::runs::list_checkpoints(run / "checkpoints");
  REQUIRE_FALSE(all.empty());
  return zimt::runs::load_checkpoint(all.back()).params.w;
}

// `zimt <args>` under a file size limit of `kib` KiB with SIGXFSZ ignored, so
// a write past it fails with EFBIG as on a full disk.
CliResult run_zimt_size_limited(int kib, const std::string& args) {
  return zimt::test::run_shell("bash -c 'trap \"\" XFSZ; ulimit -f " + std::to_string(kib) +
                               "; exec \"" ZIMT_CLI "\" " + args + "'");
}

// Names in `dir` (recursively) that look like an unfinished atomic write.
std::vector<std::string> temporary_files(const fs::path& dir) {
  std::vector<std::string> found;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.path().filename().string().find(".tmp.") != std::string::npos) found.push_back(e.path().string());
  return found;
}

}  // namespace

TEST_CASE("a second zimt train on a locked run directory is refused with the holder's pid, host and start") {
  zimt::test::ScratchDir dir("lock");
  make_tiny_data(dir.path);
  const auto config = write_config(dir.path, "run");
  const zimt::runs::DirLock held(dir.path / "run", "a test");
  const auto r = run_zimt("train " + config.string() + " --quiet --resume");
  INFO(r.output);
  CHECK(r.exit_code == 1);
  CHECK(r.output.find("/run: in use by a test (pid " + std::to_string(::getpid()) + " on ") != std::string::npos);
  CHECK(r.output.find(", started 20") != std::string::npos);
  CHECK_FALSE(fs::exists(dir.path / "run" / "metrics.jsonl"));  // it wrote nothing
}

TEST_CASE("a lock whose holder was killed does not block the directory") {
  zimt::test::ScratchDir dir("dead_lock");
  int ready[2];
  REQUIRE(::pipe(ready) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    const zimt::runs::DirLock held(dir.path / "run", "a doomed holder");
    const char byte = 1;
    [[maybe_unused]] const ssize_t n = ::write(ready[1], &byte, 1);
    ::pause();
    ::_exit(0);
  }
  char byte = 0;
  REQUIRE(::read(ready[0], &byte, 1) == 1);
  CHECK_THROWS_AS(zimt::runs::DirLock(dir.path / "run", "a test"), zimt::runs::DirBusy);
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  ::close(ready[0]);
  ::close(ready[1]);
  CHECK(fs::exists(dir.path / "run" / zimt::runs::DirLock::kFileName));  // the file stays, the lock does not
  CHECK_NOTHROW(zimt::runs::DirLock(dir.path / "run", "a test"));
}

TEST_CASE("a second sweep on the same output directory is refused") {
  zimt::test::ScratchDir dir("sweep_lock");
  make_tiny_data(dir.path);
  const auto base = write_config(dir.path, "base");
  const json sweep = {{"base", base.string()}, {"seeds", 1}, {"output", (dir.path / "sweep").string()}};
  std::ofstream(dir.path / "sweep.json") << sweep.dump(2);
  const zimt::runs::DirLock held(dir.path / "sweep", "zimt sweep");
  const auto r = run_zimt("sweep " + (dir.path / "sweep.json").string() + " --jobs 1");
  INFO(r.output);
  CHECK(r.exit_code == 1);
  CHECK(r.output.find("/sweep: in use by zimt sweep (pid " + std::to_string(::getpid())) != std::string::npos);
}

TEST_CASE(
    "--resume sets a corrupt or truncated newest checkpoint aside and continues bit-exactly from the one before") {
  zimt::test::ScratchDir dir("fallback");
  make_tiny_data(dir.path);
  const auto whole = write_config(dir.path, "whole");
  REQUIRE(run_zimt("train " + whole.string() + " --quiet").exit_code == 0);

  for (const bool truncate : {false, true}) {
    CAPTURE(truncate);
    const auto part = write_config(dir.path, "part");
    REQUIRE(run_zimt("train " + part.string() + " --quiet --overwrite").exit_code == 0);
    const fs::path newest = dir.path / "part/checkpoints/step-0000000063.zck";
    REQUIRE(fs::exists(newest));
    if (truncate) {
      fs::resize_file(newest, fs::file_size(newest) / 2);
    } else {
      std::fstream f(newest, std::ios::in | std::ios::out | std::ios::binary);
      f.seekp(100);
      f.put('\x5a');
    }
    // What a write killed mid-way leaves; the resumed run (holding the lock) removes it.
    const fs::path stale = dir.path / "part/checkpoints/.step-0000000070.zck.tmp.a1B2c3";
    const fs::path not_ours = dir.path / "part/checkpoints/.notes.tmp";
    std::ofstream(stale) << "partial";
    std::ofstream(not_ours) << "kept";
    const auto r = run_zimt("train " + part.string() + " --quiet --resume");
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    CHECK_FALSE(fs::exists(stale));
    CHECK(fs::exists(not_ours));
    CHECK(r.output.find("step-0000000063.zck: " + std::string(truncate ? "truncated" : "checksum mismatch")) !=
          std::string::npos);
    CHECK(r.output.find("set aside as step-0000000063.zck.bad, resuming from step-0000000060.zck") !=
          std::string::npos);
    CHECK(fs::exists(newest));  // written again by the resumed run
    CHECK(metrics_without_timing(dir.path / "part") == metrics_without_timing(dir.path / "whole"));
    CHECK(newest_weights(dir.path / "part") == newest_weights(dir.path / "whole"));
  }
}

TEST_CASE("--resume with no valid checkpoint left says so and changes nothing") {
  zimt::test::ScratchDir dir("no_valid");
  make_tiny_data(dir.path);
  const auto config = write_config(dir.path, "run", {{"train", {{"max_steps", 20}}}});
  REQUIRE(run_zimt("train " + config.string() + " --quiet").exit_code == 0);
  for (const auto& path : zimt::runs::list_checkpoints(dir.path / "run/checkpoints")) fs::resize_file(path, 10);
  const auto r = run_zimt("train " + config.string() + " --quiet --resume");
  INFO(r.output);
  CHECK(r.exit_code == 1);
  CHECK(r.output.find("/run/checkpoints: no valid checkpoint to resume from:") != std::string::npos);
  CHECK(r.output.find("step-0000000020.zck: truncated checkpoint (10 bytes)") != std::string::npos);
  CHECK(r.output.find("start the run again with --overwrite") != std::string::npos);
  CHECK(zimt::runs::list_checkpoints(dir.path / "run/checkpoints").size() == 2);
}

TEST_CASE("a full disk while writing a checkpoint: a clear error, older checkpoints intact, no partial file") {
  zimt::test::ScratchDir dir("disk_full_ckpt");
  make_tiny_data(dir.path);
  // Few metrics rows, so the checkpoint (~2.7 KB) is the first file to pass a 2 KiB limit.
  const json sparse = {{"train", {{"eval_every", 100}}}, {"output", {{"checkpoint_every", 20}}}};
  const auto whole = write_config(dir.path, "whole", sparse);
  REQUIRE(run_zimt("train " + whole.string() + " --quiet").exit_code == 0);
  // A run that got as far as step 40's checkpoint.
  const auto part = write_config(dir.path, "part", sparse);
  REQUIRE(run_zimt("train " + part.string() + " --quiet").exit_code == 0);
  for (const char* later : {"step-0000000060.zck", "step-0000000063.zck"})
    fs::remove(dir.path / "part/checkpoints" / later);

  const auto r = run_zimt_size_limited(2, "train " + part.string() + " --quiet --resume");
  INFO(r.output);
  CHECK(r.exit_code == 1);
  CHECK(r.output.find("step-0000000060.zck: write failed: File too large") != std::string::npos);
  CHECK(temporary_files(dir.path / "part").empty());
  const auto left = zimt::runs::list_checkpoints(dir.path / "part/checkpoints");
  REQUIRE(left.size() == 1);
  CHECK(left.back().filename() == "step-0000000040.zck");
  CHECK_NOTHROW(zimt::runs::load_checkpoint(left.back()));

  const auto resumed = run_zimt("train " + part.string() + " --quiet --resume");
  INFO(resumed.output);
  REQUIRE(resumed.exit_code == 0);
  CHECK(metrics_without_timing(dir.path / "part") == metrics_without_timing(dir.path / "whole"));
  CHECK(newest_weights(dir.path / "part") == newest_weights(dir.path / "whole"));
}

TEST_CASE("a full disk while appending metrics: a clear error and no partial row") {
  zimt::test::ScratchDir dir("disk_full_metrics");
  make_tiny_data(dir.path);
  const auto config =
      write_config(dir.path, "run", {{"train", {{"eval_every", 2}}}, {"output", {{"checkpoint_every", 0}}}});
  const auto r = run_zimt_size_limited(2, "train " + config.string() + " --quiet");
  INFO(r.output);
  CHECK(r.exit_code == 1);
  CHECK(r.output.find("/run/metrics.jsonl: write failed: File too large (the rows before it are kept)") !=
        std::string::npos);
  for (const char* name : {"metrics.jsonl", "metrics.csv"}) {
    const std::string text = read_text(dir.path / "run" / name);
    REQUIRE_FALSE(text.empty());
    CHECK_MESSAGE(text.back() == '\n', name);
  }
  const std::string jsonl = read_text(dir.path / "run/metrics.jsonl");
  const auto rows = zimt::runs::read_metrics(dir.path / "run/metrics.jsonl");
  CHECK(rows.size() >= 2);
  CHECK(rows.size() == static_cast<size_t>(std::count(jsonl.begin(), jsonl.end(), '\n')));
}

TEST_CASE("a full disk while writing a dataset: a clear error and no file") {
  zimt::test::ScratchDir dir("disk_full_data");
  const auto r = run_zimt_size_limited(
      8, "synth -o " + (dir.path / "big.zds").string() + " --samples 2000 --classes 4 --shape 1,12,12");
  INFO(r.output);
  CHECK(r.exit_code == 1);
  CHECK(r.output.find("big.zds: write failed: File too large") != std::string::npos);
  CHECK(fs::is_empty(dir.path));
}

TEST_CASE("SIGINT or SIGTERM mid-run writes a checkpoint, and --resume ends where an uninterrupted run does") {
  zimt::test::ScratchDir dir("signals");
  make_tiny_data(dir.path);
  const json two_epochs = {{"train", {{"epochs", 2}}}, {"output", {{"checkpoint_every", 0}}}};
  const auto whole = write_config(dir.path, "whole", two_epochs);
  REQUIRE(run_zimt("train " + whole.string() + " --quiet").exit_code == 0);
  for (const char* signal : {"INT", "TERM"}) {
    CAPTURE(signal);
    const std::string run = std::string("part_") + signal;
    const auto part = write_config(dir.path, run, two_epochs);
    // Signal the run as soon as it has written its first metrics row.
    const std::string script = "sh -c '\"" ZIMT_CLI "\" train " + part.string() + " --quiet & pid=$!; while [ ! -s " +
                               (dir.path / run / "metrics.jsonl").string() +
                               " ] && kill -0 $pid 2>/dev/null; do sleep 0.002; done; kill -" + signal +
                               " $pid; wait $pid; echo exit=$?'";
    FILE* pipe = popen(script.c_str(), "r");
    REQUIRE(pipe != nullptr);
    char line[64] = {};
    REQUIRE(fgets(line, sizeof line, pipe) != nullptr);
    pclose(pipe);
    INFO(line);
    CHECK(std::string(line) == "exit=130\n");
    const auto saved = zimt::runs::list_checkpoints(dir.path / run / "checkpoints");
    REQUIRE_FALSE(saved.empty());
    CHECK(saved.back().filename() != "step-0000000126.zck");  // it stopped before the end
    CHECK(json::parse(read_text(dir.path / run / "summary.json"))["status"] == "running");
    const auto resumed = run_zimt("train " + part.string() + " --quiet --resume");
    INFO(resumed.output);
    REQUIRE(resumed.exit_code == 0);
    CHECK(metrics_without_timing(dir.path / run) == metrics_without_timing(dir.path / "whole"));
    CHECK(newest_weights(dir.path / run) == newest_weights(dir.path / "whole"));
  }
}

TEST_CASE("an output directory that cannot be created, or a missing dataset, is a clear error") {
  zimt::test::ScratchDir dir("bad_paths");
  make_tiny_data(dir.path);
  std::ofstream(dir.path / "a_file") << "not a directory\n";
  const auto under_file = write_config(dir.path, "r1", {{"output", {{"dir", (dir.path / "a_file/run").string()}}}});
  const auto r1 = run_zimt("train " + under_file.string() + " --quiet");
  INFO(r1.output);
  CHECK(r1.exit_code == 1);
  CHECK(r1.output.find("a_file/run: cannot create the directory: Not a directory") != std::string::npos);

  const auto no_data = write_config(dir.path, "r2", {{"data", {{"train", (dir.path / "gone.zds").string()}}}});
  const auto r2 = run_zimt("train " + no_data.string() + " --quiet");
  INFO(r2.output);
  CHECK(r2.exit_code == 1);
  CHECK(r2.output.find("gone.zds: cannot open: No such file or directory") != std::string::npos);
}

TEST_CASE("a dataset replaced between a stop and --resume is refused, naming the file") {
  zimt::test::ScratchDir dir("data_replaced");
  make_tiny_data(dir.path);
  const json two_epochs = {{"train", {{"epochs", 2}}}};
  const auto whole = write_config(dir.path, "whole", two_epochs);
  REQUIRE(run_zimt("train " + whole.string() + " --quiet").exit_code == 0);
  const auto part = write_config(dir.path, "part", two_epochs);
  REQUIRE(run_zimt("train " + part.string() + " --quiet --set /train/max_steps=20").exit_code == 0);

  fs::copy_file(dir.path / "train.zds", dir.path / "saved.zds");
  REQUIRE(run_zimt("synth -o " + (dir.path / "train.zds").string() +
                   " --samples 2000 --classes 4 --shape 1,12,12 --seed 2 --force")
              .exit_code == 0);
  const auto refused = run_zimt("train " + part.string() + " --quiet --resume");
  INFO(refused.output);
  CHECK(refused.exit_code == 2);
  CHECK(refused.output.find("/data/train: " + (dir.path / "train.zds").string() +
                            " is not the dataset the run being resumed used (it had 2000 samples, payload crc32 ") !=
        std::string::npos);

  // With the file restored the run ends with the weights of the uninterrupted
  // one (its metrics differ at step 20, where the shortened run evaluated the
  // whole test set as every run does at its end).
  fs::copy_file(dir.path / "saved.zds", dir.path / "train.zds", fs::copy_options::overwrite_existing);
  const auto resumed = run_zimt("train " + part.string() + " --quiet --resume");
  INFO(resumed.output);
  REQUIRE(resumed.exit_code == 0);
  CHECK(newest_weights(dir.path / "part") == newest_weights(dir.path / "whole"));
}

TEST_CASE("a run whose estimated memory exceeds the limit is refused before it starts") {
  zimt::test::ScratchDir dir("memory");
  make_tiny_data(dir.path);
  const auto small = write_config(dir.path, "small", {{"train", {{"max_steps", 2}}}});
  const auto low = run_zimt("train " + small.string() + " --quiet --memory-limit 64K");
  INFO(low.output);
  CHECK(low.exit_code == 1);
  CHECK(low.output.find(": training tiny needs about ") != std::string::npos);
  CHECK(low.output.find("over the memory limit of 64.0 KiB (--memory-limit); lower /train/batch_size") !=
        std::string::npos);
  CHECK_FALSE(fs::exists(dir.path / "small"));  // refused before the run directory
  CHECK(run_zimt("train " + small.string() + " --quiet --memory-limit 1G").exit_code == 0);
  const auto bad = run_zimt("train " + small.string() + " --quiet --memory-limit lots");
  CHECK(bad.exit_code == 1);
  CHECK(bad.output.find("memory size 'lots': expected bytes or a number with K, M, G or T (binary)") !=
        std::string::npos);
}

TEST_CASE("a dataset truncated in place mid-run stops with a clear error; deleted mid-run, the run goes on") {
  zimt::test::ScratchDir dir("data_changed");
  make_tiny_data(dir.path);
  const json two_epochs = {{"train", {{"epochs", 2}}}};
  const auto whole = write_config(dir.path, "whole", two_epochs);
  REQUIRE(run_zimt("train " + whole.string() + " --quiet").exit_code == 0);
  fs::copy_file(dir.path / "train.zds", dir.path / "saved.zds");
  // Run `change` on the training file as soon as the run has written its first metrics row.
  const auto run_and = [&](const std::string& run, const std::string& change) {
    const auto part = write_config(dir.path, run, two_epochs);
    const std::string script = "sh -c '\"" ZIMT_CLI "\" train " + part.string() +
                               " --quiet 2>&1 & pid=$!; while [ ! -s " + (dir.path / run / "metrics.jsonl").string() +
                               " ] && kill -0 $pid 2>/dev/null; do sleep 0.002; done; " + change + " " +
                               (dir.path / "train.zds").string() + "; wait $pid; echo exit=$?'";
    return zimt::test::run_shell(script).output;
  };
  const std::string truncated = run_and("cut", "truncate -s 1000");
  INFO(truncated);
  CHECK(truncated.find("zimt: error: a dataset file shrank while in use (truncated or rewritten in place)") !=
        std::string::npos);
  CHECK(truncated.find("exit=1\n") != std::string::npos);
  fs::copy_file(dir.path / "saved.zds", dir.path / "train.zds", fs::copy_options::overwrite_existing);
  const auto resumed = run_zimt("train " + write_config(dir.path, "cut", two_epochs).string() + " --quiet --resume");
  INFO(resumed.output);
  CHECK(resumed.exit_code == 0);
  CHECK(metrics_without_timing(dir.path / "cut") == metrics_without_timing(dir.path / "whole"));
  CHECK(newest_weights(dir.path / "cut") == newest_weights(dir.path / "whole"));

  const std::string deleted = run_and("gone", "rm");
  INFO(deleted);
  CHECK(deleted.find("exit=0\n") != std::string::npos);
  CHECK(metrics_without_timing(dir.path / "gone") == metrics_without_timing(dir.path / "whole"));
}
