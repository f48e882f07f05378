// `zimt train` / `zimt eval` end to end on a generated 4-class dataset:
// learning, bit-exact resume, thread-count independence, config errors, eval.
#include "cli_run.hpp"
#include "tiny_run.hpp"
#include "zimt/runs/metrics_log.hpp"
#include "zimt/version.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>

namespace fs = std::filesystem;
using nlohmann::json;
using zimt::test::make_tiny_data;
using zimt::test::metrics_without_timing;
using zimt::test::read_text;
using zimt::test::run_zimt;

namespace {

// The tiny model's run for these tests: two epochs, evaluations every 25
// steps, checkpoints every 20.
fs::path write_config(const fs::path& dir, const std::string& run, const json& extra = json::object()) {
  const json settings = {{"train", {{"epochs", 2}, {"eval_every", 25}, {"eval_samples", 200}}},
                         {"output", {{"checkpoint_every", 20}}}};
  return zimt::test::write_tiny_config(dir, run, settings, extra);
}

}  // namespace

TEST_CASE("a tiny run learns, writes its run directory, and evaluates") {
  zimt::test::ScratchDir dir("train");
  make_tiny_data(dir.path);
  const auto config = write_config(dir.path, "run");
  const auto r = run_zimt("train " + config.string() + " --quiet");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const fs::path run = dir.path / "run";
  for (const char* f : {"config.resolved.json", "metrics.jsonl", "metrics.csv", "summary.json", "train.log"})
    CHECK_MESSAGE(fs::exists(run / f), f);
  const auto rows = zimt::runs::read_metrics(run / "metrics.jsonl");
  REQUIRE(rows.size() >= 4);
  // 2 epochs x 63 steps: evaluations at every 25 steps and both epoch ends.
  CHECK(rows.back()["step"] == 126);
  CHECK(rows.back()["eval_samples"] == 500);
  for (const char* key : {"epoch", "train_loss", "test_loss", "test_acc", "images_per_s", "saturated", "u_l1",
                          "changed", "max_abs_w", "train_s", "eval_s", "elapsed_s"})
    CHECK_MESSAGE(rows.back().contains(key), key);
  const json summary = json::parse(read_text(run / "summary.json"));
  CHECK(summary["status"] == "finished");
  CHECK(summary["zimt_version"] == zimt::kVersion);
  // The epoch lines give the accuracy to two decimals of a percent, the loss to four.
  CHECK(std::regex_search(read_text(run / "train.log"),
                          std::regex(R"(epoch 1 step \d+: test accuracy \d+\.\d\d %, test loss \d+\.\d{4}\n)")));
  // Throughput counts training time only (evaluation has its own column).
  CHECK(rows.back()["train_s"].get<double>() > 0);
  CHECK(rows.back()["eval_s"].get<double>() > 0);
  CHECK(summary["images_per_s"].get<double>() > 0);
  // Chance is 25 %; the task is easy for the tiny CNN.
  CHECK(summary["final_test_acc"].get<double>() > 0.6);
  CHECK(rows.back()["train_loss"].get<double>() < rows.front()["train_loss"].get<double>());

  const std::string newest = (run / "checkpoints" / "step-0000000126.zck").string();
  const auto e = run_zimt("eval " + newest);
  INFO(e.output);
  CHECK(e.exit_code == 0);
  CHECK(e.output.find("confusion matrix") != std::string::npos);
  const auto ej = run_zimt("eval --json " + newest);
  REQUIRE(ej.exit_code == 0);
  const json ev = json::parse(ej.output);
  CHECK(ev["samples"] == 500);
  CHECK(ev["accuracy"].get<double>() == doctest::Approx(summary["final_test_acc"].get<double>()));
  CHECK(ev["confusion"].size() == 4);
}

TEST_CASE("a run stopped and resumed ends byte-identical to one that never stopped") {
  zimt::test::ScratchDir dir("resume");
  make_tiny_data(dir.path);
  const auto whole = write_config(dir.path, "whole");
  REQUIRE(run_zimt("train " + whole.string() + " --quiet").exit_code == 0);

  // Kill -9 the run as soon as its step-40 checkpoint exists, then resume to the end.
  const auto part = write_config(dir.path, "part");
  const std::string ckpt40 = (dir.path / "part/checkpoints/step-0000000040.zck").string();
  const std::string kill_script =
      "sh -c '\"" ZIMT_CLI "\" train " + part.string() + " --quiet & pid=$!; while [ ! -e " + ckpt40 +
      " ] && kill -0 $pid 2>/dev/null; do sleep 0.005; done; kill -9 $pid; wait $pid' 2>/dev/null";
  std::system(kill_script.c_str());
  REQUIRE(fs::exists(ckpt40));
  const auto before = zimt::runs::read_metrics(dir.path / "part/metrics.jsonl");
  REQUIRE_FALSE(before.empty());
  CHECK(before.back()["step"].get<int>() < 126);  // it really died mid-run
  const auto resumed = run_zimt("train " + part.string() + " --quiet --resume");
  INFO(resumed.output);
  REQUIRE(resumed.exit_code == 0);
  CHECK(metrics_without_timing(dir.path / "part") == metrics_without_timing(dir.path / "whole"));
  // Checkpoints hold the resolved config, whose /output/dir differs; compare weights via eval.
  const auto a = run_zimt("eval --json " + (dir.path / "whole/checkpoints").string() + "/step-0000000126.zck");
  const auto b = run_zimt("eval --json " + (dir.path / "part/checkpoints").string() + "/step-0000000126.zck");
  REQUIRE(a.exit_code == 0);
  CHECK(json::parse(a.output)["confusion"] == json::parse(b.output)["confusion"]);
}

TEST_CASE("results are identical for 1, 2 and 4 threads") {
  zimt::test::ScratchDir dir("threads");
  make_tiny_data(dir.path);
  std::string reference;
  for (int threads : {1, 2, 4}) {
    const std::string run = "t" + std::to_string(threads);
    const auto config = write_config(dir.path, run, {{"train", {{"threads", threads}, {"epochs", 1}}}});
    REQUIRE(run_zimt("train " + config.string() + " --quiet").exit_code == 0);
    const std::string metrics = metrics_without_timing(dir.path / run);
    if (reference.empty())
      reference = metrics;
    else
      CHECK_MESSAGE(metrics == reference, threads << " threads differ");
  }
}

TEST_CASE("config errors are reported all at once with pointers, before any work") {
  zimt::test::ScratchDir dir("errors");
  make_tiny_data(dir.path);
  const auto config = write_config(dir.path, "bad", {{"optimizer", {{"n", -5}}}, {"train", {{"batch_size", 0}}}});
  const auto r = run_zimt("train " + config.string() + " --set /train/epochz=1");
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("/optimizer/n: must be >= 0, got -5") != std::string::npos);
  CHECK(r.output.find("/train/batch_size: must be >= 1, got 0") != std::string::npos);
  CHECK(r.output.find("/train/epochz: unknown key 'epochz' (did you mean 'epochs'?)") != std::string::npos);
  CHECK_FALSE(fs::exists(dir.path / "bad"));

  // A dataset that does not fit the model is named at /data/train.
  const auto wrong = write_config(dir.path, "wrong", {{"model", "mnist_cnn"}});
  const auto w = run_zimt("train " + wrong.string());
  CHECK(w.exit_code == 2);
  CHECK(w.output.find("/data/train") != std::string::npos);
  CHECK(w.output.find("/model/input is 1x28x28") != std::string::npos);

  // An existing run is not overwritten by accident.
  const auto ok = write_config(dir.path, "ok", {{"train", {{"max_steps", 3}}}});
  REQUIRE(run_zimt("train " + ok.string() + " --quiet").exit_code == 0);
  const auto again = run_zimt("train " + ok.string() + " --quiet");
  CHECK(again.exit_code == 1);
  CHECK(again.output.find("already holds a run") != std::string::npos);
}
