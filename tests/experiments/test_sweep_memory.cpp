// The sweep's memory guard rail: the largest run of a plan, and the number
// of runs trained at once lowered until they fit the limit together.
#include "zimt/experiments/sweep_memory.hpp"
#include "zimt/runs/config.hpp"

#include <doctest/doctest.h>

#include <stdexcept>
#include <string>

using namespace zimt::experiments;

namespace {

PlannedRun planned(const std::string& name, const std::string& config) {
  PlannedRun run;
  run.name = name;
  run.config = zimt::runs::load_resolved_config(std::string(ZIMT_SOURCE_DIR) + "/configs/" + config, {});
  return run;
}

RunMemory needs(uint64_t bytes) {
  RunMemory m;
  m.estimate.parameters = bytes / 4;
  m.estimate.activations = bytes - bytes / 4;
  m.batch = 64;
  m.run = "big";
  return m;
}

}  // namespace

TEST_CASE("sweep memory: the largest valid run of the plan") {
  const PlannedRun tiny = planned("tiny", "tiny.json"), cnn = planned("cnn", "mnist_cnn_zim.json");
  PlannedRun broken = cnn;
  broken.name = "broken";
  broken.config_error = "/train/batch_size: must be at least 1";
  const RunMemory m = largest_run_memory({&tiny, &broken, &cnn});
  CHECK(m.run == "cnn");
  CHECK(m.batch == 64);
  CHECK(m.estimate.total() > largest_run_memory({&tiny}).estimate.total());
  CHECK(largest_run_memory({&broken}).run.empty());
  CHECK(largest_run_memory({}).estimate.total() == 0);
}

TEST_CASE("sweep memory: jobs lowered until the runs fit together") {
  const uint64_t e = 1000;
  const ThreadBudget four{4, 2};
  SUBCASE("room for all") {
    const ThreadBudget b = fit_jobs_in_memory(four, needs(e), 4 * e, false, 0, 8);
    CHECK(b.jobs == 4);
    CHECK(b.threads_per_job == 2);
  }
  SUBCASE("room for two: the threads per job are derived again") {
    const ThreadBudget b = fit_jobs_in_memory(four, needs(e), 2 * e + e / 2, false, 0, 8);
    CHECK(b.jobs == 2);
    CHECK(b.threads_per_job == 4);
  }
  SUBCASE("threads per job asked for are kept") {
    const ThreadBudget b = fit_jobs_in_memory(four, needs(e), 3 * e, false, 2, 8);
    CHECK(b.jobs == 3);
    CHECK(b.threads_per_job == 2);
  }
  SUBCASE("not even one run fits: refused with the estimate") {
    try {
      fit_jobs_in_memory(four, needs(e), e - 1, false, 0, 8);
      FAIL("expected a refusal");
    } catch (const std::runtime_error& err) {
      const std::string what = err.what();
      CHECK(what.find("run big needs about") != std::string::npos);
      CHECK(what.find("over the memory limit") != std::string::npos);
    }
  }
  SUBCASE("no valid run: the budget as it was") {
    const ThreadBudget b = fit_jobs_in_memory(four, RunMemory{}, 1, false, 0, 8);
    CHECK(b.jobs == 4);
  }
}
