// `mpirun -np K zimt sweep` (docs/distributed.md): the ranks share the
// runs of the plan, each training its share as local child processes; the
// per-run results must equal the same sweep run by one process, and a
// finished sweep is skipped as a whole.
#include "cli_run.hpp"
#include "dist_runs.hpp"
#include "mpi_run.hpp"
#include "tiny_run.hpp"

#include <doctest/doctest.h>

#include <fstream>

namespace fs = std::filesystem;
using nlohmann::json;
using zimt::test::metrics_without_timing;
using zimt::test::run_zimt;
using zimt::test::run_zimt_mpi;
using zimt::test::ScratchDir;

TEST_CASE("a sweep over 2 ranks trains every run as one process does, and skips them when done") {
  ScratchDir dir("dist_sweep");
  zimt::test::make_tiny_data(dir.path);
  const fs::path base = zimt::test::write_run_config(dir.path, "base", "tiny", {{"train", {{"max_steps", 8}}}});
  const fs::path sweep = dir.path / "sweep.json";
  std::ofstream(sweep) << json({{"base", base.string()},
                                {"zip",
                                 {{{"/optimizer/type", {"zim", "int_sgd"}}, {"/optimizer/init", {"dense", "float"}}}}},
                                {"seeds", 2},
                                {"label", "{/optimizer/type}"},
                                {"output", (dir.path / "unused").string()}})
                              .dump();
  const auto local = run_zimt("sweep " + sweep.string() + " -o " + (dir.path / "local").string() + " -j 1 -t 1");
  REQUIRE_MESSAGE(local.exit_code == 0, local.output);
  const auto ranks = run_zimt_mpi(2, "sweep " + sweep.string() + " -o " + (dir.path / "ranks").string() + " -t 1");
  REQUIRE_MESSAGE(ranks.exit_code == 0, ranks.output);

  int runs = 0;
  for (const auto& entry : fs::directory_iterator(dir.path / "local")) {
    if (!fs::exists(entry.path() / "metrics.jsonl")) continue;
    ++runs;
    const std::string name = entry.path().filename().string();
    INFO(name);
    const std::string expected = metrics_without_timing(entry.path());
    CHECK_FALSE(expected.empty());
    CHECK(metrics_without_timing(dir.path / "ranks" / name) == expected);
  }
  CHECK(runs == 4);
  CHECK(fs::exists(dir.path / "ranks" / "summary.md"));

  const auto again = run_zimt_mpi(2, "sweep " + sweep.string() + " -o " + (dir.path / "ranks").string() + " -t 1");
  REQUIRE_MESSAGE(again.exit_code == 0, again.output);
  CHECK(again.output.find("4 runs, 4 already done, 0 to run on rank 0 of 2") != std::string::npos);
}
