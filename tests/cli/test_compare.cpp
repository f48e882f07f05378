// `zimt compare` end to end: two groups of hand-made run directories (one in
// zimt's layout, one in the PyTorch peer's: no `saturated`, config.json, an
// unfinished seed, an extra evaluation step in one run) against hand-computed
// means and sample standard deviations; well-formed SVG with one series per
// group; epoch-end-only runs on --x epoch and a run not started; bad paths;
// and real `zimt train` runs of configs/tiny.json.
#include "cli_run.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using nlohmann::json;
using zimt::test::read_text;
using zimt::test::run_zimt;

namespace {

void write(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

// A run directory: `rows` become metrics.jsonl; `config` is written as
// config.resolved.json (zimt) or config.json (the peer) by `config_name`.
void make_run(const fs::path& dir, const std::vector<json>& rows, const json& summary, const std::string& config_name,
              const json& config) {
  std::string metrics;
  for (const json& r : rows) metrics += r.dump() + "\n";
  write(dir / "metrics.jsonl", metrics);
  write(dir / "summary.json", summary.dump(2));
  write(dir / config_name, config.dump(2));
}

json row(int step, double epoch, double acc, double loss) {
  return {{"step", step}, {"epoch", epoch}, {"test_acc", acc}, {"test_loss", loss}};
}

json zimt_row(int step, double epoch, double acc, double loss, int saturated) {
  json r = row(step, epoch, acc, loss);
  r["saturated"] = saturated;
  return r;
}

json finished(double final_acc, double wall_s, double images_per_s) {
  return {{"status", "finished"},
          {"final_test_acc", final_acc},
          {"best_test_acc", final_acc},
          {"wall_s", wall_s},
          {"images_per_s", images_per_s}};
}

// Group "int": <dir>/int/{s1,s2} in zimt's layout; s2 also evaluated at step
// 15, which s1 did not. Group "float": <dir>/torch/sgd-s{1,2,3} in the peer's
// layout, without `saturated`; s3 is still running.
void make_fixture(const fs::path& dir) {
  make_run(dir / "int/s1", {zimt_row(10, 0.5, 0.5, 1.0, 4), zimt_row(20, 1, 0.7, 0.6, 2)}, finished(0.7, 10, 100),
           "config.resolved.json", {{"train", {{"seed", 1}}}});
  make_run(dir / "int/s2",
           {zimt_row(10, 0.5, 0.7, 0.8, 6), zimt_row(15, 0.75, 0.75, 0.7, 1), zimt_row(20, 1, 0.9, 0.4, 2)},
           finished(0.9, 20, 300), "config.resolved.json", {{"train", {{"seed", 2}}}});
  make_run(dir / "torch/sgd-s1", {row(10, 0.5, 0.6, 0.9), row(20, 1, 0.8, 0.5)}, finished(0.8, 30, 1000), "config.json",
           {{"args", {{"seed", 1}}}});
  make_run(dir / "torch/sgd-s2", {row(10, 0.5, 0.8, 0.7), row(20, 1, 0.9, 0.3)}, finished(0.9, 50, 3000), "config.json",
           {{"args", {{"seed", 2}}}});
  make_run(dir / "torch/sgd-s3", {row(10, 0.5, 0.1, 2.0)}, {{"status", "running"}}, "config.json",
           {{"args", {{"seed", 3}}}});
}

// Number of class="series" elements of an SVG file, after parsing it as XML
// with Python's parser (-1 when it is not well-formed). Without python3 the
// parse is skipped with a MESSAGE and the elements are counted as text.
int svg_series(const fs::path& svg) {
  if (std::system("python3 -c 'import xml.etree.ElementTree' >/dev/null 2>&1") != 0) {
    MESSAGE("python3 missing: " << svg << " counted, not parsed as XML");
    const std::string text = read_text(svg);
    int n = 0;
    for (std::size_t at = text.find("class=\"series\""); at != std::string::npos;
         at = text.find("class=\"series\"", at + 1))
      ++n;
    return n;
  }
  const std::string cmd =
      "python3 -c 'import sys, xml.etree.ElementTree as E; "
      "print(sum(e.get(\"class\") == \"series\" for e in E.parse(sys.argv[1]).getroot().iter()))' '" +
      svg.string() + "' 2>/dev/null";
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) return -1;
  int n = -1;
  if (std::fscanf(pipe, "%d", &n) != 1) n = -1;
  return pclose(pipe) == 0 ? n : -1;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("compare: two hand-made groups, zimt's and the peer's layout, against hand-computed statistics") {
  zimt::test::ScratchDir dir("compare");
  make_fixture(dir.path);
  const fs::path out = dir.path / "out";
  // The glob is quoted: zimt expands it, as for `float=runs/torch/sgd-s*` typed in a shell.
  const auto r = run_zimt("compare -o out --metric saturated --title 'hand made' int='" + (dir.path / "int").string() +
                              "' 'float=" + (dir.path / "torch/sgd-s*").string() + "'",
                          dir.path);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  // Final accuracies 0.7, 0.9 and 0.8, 0.9; wall 10, 20 and 30, 50 s; images/s 100, 300 and 1000, 3000.
  CHECK(contains(r.output, "| int | 2/2 | 80.00 ± 14.14 | 80.00 ± 14.14 | 15s | 200 |"));
  CHECK(contains(r.output, "| float | 2/3 | 85.00 ± 7.07 | 85.00 ± 7.07 | 40s | 2000 |"));
  CHECK(contains(r.output, "- " + (dir.path / "torch/sgd-s3").string() + ": running"));
  CHECK(contains(r.output, "- int: 1 left out, 2 aggregated"));  // s2's step 15
  CHECK(read_text(out / "summary.md") +
            "\nwrote out/{aggregate.csv, summary.md, summary.json, test_acc.svg, test_loss.svg, saturated.svg}\n" ==
        r.output);

  // Means and sample stds (n - 1): at step 10 the int accuracies 0.5, 0.7 give
  // 0.6 ± sqrt(0.02) = 0.141421356; at step 20 the float ones 0.8, 0.9 give
  // 0.85 ± 0.05 sqrt(2). The peer logs no `saturated`: its columns stay empty.
  const auto csv = lines(read_text(out / "aggregate.csv"));
  REQUIRE(csv.size() == 5);
  CHECK(csv[0] ==
        "group,step,epoch,n,saturated_mean,saturated_std,test_acc_mean,test_acc_std,test_loss_mean,test_loss_std");
  CHECK(csv[1] == "int,10,0.5,2,5,1.41421356,0.6,0.141421356,0.9,0.141421356");
  CHECK(csv[2] == "int,20,1,2,2,0,0.8,0.141421356,0.5,0.141421356");
  CHECK(csv[3] == "float,10,0.5,2,,,0.7,0.141421356,0.8,0.141421356");
  CHECK(csv[4] == "float,20,1,2,,,0.85,0.0707106781,0.4,0.141421356");

  const json summary = json::parse(read_text(out / "summary.json"));
  REQUIRE(summary["groups"].size() == 2);
  CHECK(summary["groups"][0]["group"] == "int");
  CHECK(summary["groups"][0]["skipped_steps"] == 1);
  CHECK(summary["groups"][1]["members"] ==
        json::array({(dir.path / "torch/sgd-s1").string(), (dir.path / "torch/sgd-s2").string()}));
  CHECK(summary["groups"][1]["final_test_acc"]["mean"].get<double>() == doctest::Approx(0.85).epsilon(1e-12));
  REQUIRE(summary["unfinished"].size() == 1);
  CHECK(summary["unfinished"][0]["seed"] == 3);  // from the peer's config.json
  CHECK(summary["unfinished"][0]["status"] == "running");

  CHECK(svg_series(out / "test_acc.svg") == 2);
  CHECK(svg_series(out / "test_loss.svg") == 2);
  CHECK(svg_series(out / "saturated.svg") == 1);  // only the zimt group logs it
  const std::string acc_svg = read_text(out / "test_acc.svg");
  CHECK(contains(acc_svg, "hand made: test accuracy (mean ± 1 std over seeds)"));
  CHECK(contains(acc_svg, ">int (n=2)</text>"));
  CHECK(contains(acc_svg, ">float (n=2)</text>"));
}

TEST_CASE("compare: runs evaluated only at epoch ends, plotted against epoch, and a run not started listed") {
  zimt::test::ScratchDir dir("compare_epoch");
  for (int seed : {1, 2})
    make_run(dir.path / ("a-s" + std::to_string(seed)), {row(63, 1.0, 0.5 + 0.1 * seed, 1.0)},
             finished(0.5 + 0.1 * seed, 1, 1), "config.json", {{"args", {{"seed", seed}}}});
  make_run(dir.path / "b/s1", {row(63, 1.0, 0.9, 0.2), row(126, 2.0, 0.95, 0.1)}, finished(0.95, 1, 1),
           "config.resolved.json", json::object());
  write(dir.path / "a-s3/config.json", "{}");  // queued by a sweep, not started
  const auto r = run_zimt("compare --x epoch a=a-s1,a-s2,a-s3 b", dir.path);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(contains(r.output, "| a | 2/3 | 65.00 ± 7.07 |"));
  CHECK(contains(r.output, "- a-s3: missing"));
  CHECK(contains(r.output, "| b | 1/1 | 95.00 |"));        // a bare PATH: labelled by its name
  const fs::path svg = dir.path / "compare/test_acc.svg";  // the default output directory
  CHECK(svg_series(svg) == 2);
  const std::string text = read_text(svg);
  CHECK(contains(text, ">epoch</text>"));
  // One point has no line or band to show: a dot and an error bar do.
  std::size_t markers = 0;
  for (std::size_t at = text.find("class=\"marker\""); at != std::string::npos;
       at = text.find("class=\"marker\"", at + 1))
    ++markers;
  CHECK(markers == 3);
  CHECK(contains(text, "class=\"errorbar\""));
}

TEST_CASE("compare --at-epochs: accuracy on the full test set at epoch ends; subset evaluations are skipped") {
  zimt::test::ScratchDir dir("compare_at_epochs");
  const auto evaluated = [](int step, double epoch, double acc, int samples) {
    json r = row(step, epoch, acc, 1.0);
    r["eval_samples"] = samples;
    return r;
  };
  // Group z: a 100-image subset at epoch 0.5, the full 1,000 images at epoch ends 1 and 2.
  for (int seed : {1, 2})
    make_run(dir.path / ("z-s" + std::to_string(seed)),
             {evaluated(10, 0.5, 0.2 + 0.2 * seed, 100), evaluated(20, 1, 0.5 + 0.2 * seed, 1000),
              evaluated(40, 2, 0.8, 1000)},
             finished(0.8, 1, 1), "config.resolved.json", {{"train", {{"seed", seed}}}});
  // Group p: the peer's layout without eval_samples, one epoch.
  make_run(dir.path / "p-s1", {row(20, 1, 0.75, 1.0)}, finished(0.75, 1, 1), "config.json", {{"args", {{"seed", 1}}}});
  const auto r = run_zimt("compare -o out --at-epochs 0.5,1,2 'z=z-s*' p=p-s1", dir.path);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(contains(r.output, "| group | runs | epoch 0.5 | epoch 1 | epoch 2 |\n|---|---|---|---|---|\n"));
  CHECK(contains(r.output, "| z | 2 | – | 80.00 ± 14.14 | 80.00 ± 0.00 |\n"));
  CHECK(contains(r.output, "| p | 1 | – | 75.00 | – |\n"));
  CHECK(contains(read_text(dir.path / "out/summary.md"), "| z | 2 | – | 80.00 ± 14.14 | 80.00 ± 0.00 |"));

  const auto bad = run_zimt("compare -o out2 --at-epochs 0 p=p-s1", dir.path);
  CHECK(bad.exit_code != 0);
  CHECK(contains(bad.output, "--at-epochs"));
  CHECK_FALSE(fs::exists(dir.path / "out2"));
}

TEST_CASE("compare: missing, empty and unmatched paths are errors naming the path") {
  zimt::test::ScratchDir dir("compare_bad");
  make_run(dir.path / "ok", {row(10, 1, 0.5, 1)}, finished(0.5, 1, 1), "config.json", json::object());
  fs::create_directories(dir.path / "empty");
  write(dir.path / "file.txt", "x");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"ok missing", "missing: no such directory"},
      {"ok empty", "empty: not a run directory (no metrics.jsonl or config), and no subdirectory of it is one"},
      {"'x=ok,nope*'", "nope*: matches no run directory"},
      {"x=", "group 'x': empty path"},
      {"ok file.txt", "file.txt: not a directory"},
      {"a=ok a=ok", "two groups are labelled 'a'"},
      {"ok --metric nope", "--metric nope: no finished run logs it (metrics.jsonl has: test_acc, test_loss)"},
  };
  for (const auto& one_case : cases) {
    // Named copies: doctest's INFO captures them in a lambda, which clang 14
    // does not allow for structured bindings.
    const std::string args = one_case.first, message = one_case.second;
    const auto r = run_zimt("compare -o out " + args, dir.path);
    INFO(args << " -> " << r.output);
    CHECK(r.exit_code == 1);
    CHECK(contains(r.output, "zimt: error: " + message));
    CHECK_FALSE(fs::exists(dir.path / "out"));  // nothing written
  }
  const auto r = run_zimt("compare", dir.path);
  CHECK(r.exit_code != 0);  // CLI11: GROUP is required
}

TEST_CASE("compare: real `zimt train` runs of configs/tiny.json, two optimizers x two seeds") {
  zimt::test::ScratchDir dir("compare_train");
  fs::create_directories(dir.path / "data/tiny");
  const std::string synth = "synth --classes 4 --shape 1,12,12 --seed 1 --noise 0.1 --force ";  // as data/make_tiny
  REQUIRE(run_zimt(synth + "-o data/tiny/train.zds --samples 2000 --first 0", dir.path).exit_code == 0);
  REQUIRE(run_zimt(synth + "-o data/tiny/test.zds --samples 500 --first 2000", dir.path).exit_code == 0);
  const std::string config = std::string(ZIMT_SOURCE_DIR) + "/configs/tiny.json";
  for (const std::string optimizer : {"zim", "int_sgd"})
    for (const std::string seed : {"1", "2"}) {
      const auto r =
          run_zimt("train " + config + " --quiet --set /train/epochs=1 --set /train/seed=" + seed +
                       " --set /optimizer/type=" + optimizer + " --set /output/dir=runs/" + optimizer + "-s" + seed,
                   dir.path);
      INFO(r.output);
      REQUIRE(r.exit_code == 0);
    }
  const auto r = run_zimt("compare -o cmp 'zim=runs/zim-s*' 'int sgd=runs/int_sgd-s1,runs/int_sgd-s2'", dir.path);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(contains(r.output, "| zim | 2/2 | "));
  CHECK(contains(r.output, "| int sgd | 2/2 | "));
  // 63 steps, evaluated every 20 and at the end: 20, 40, 60, 63 for each group.
  const auto csv = lines(read_text(dir.path / "cmp/aggregate.csv"));
  REQUIRE(csv.size() == 9);
  CHECK(csv[4].rfind("zim,63,1,2,", 0) == 0);
  CHECK(csv[8].rfind("int sgd,63,1,2,", 0) == 0);
  CHECK(svg_series(dir.path / "cmp/test_acc.svg") == 2);
  CHECK(svg_series(dir.path / "cmp/test_loss.svg") == 2);
  const auto by_epoch = run_zimt("compare -o cmp-epoch --x epoch --metric train_acc runs", dir.path);
  INFO(by_epoch.output);
  REQUIRE(by_epoch.exit_code == 0);
  CHECK(contains(by_epoch.output, "| runs | 4/4 | "));  // a directory of run directories: one group
  CHECK(svg_series(dir.path / "cmp-epoch/train_acc.svg") == 1);
}
