// Seed aggregation against hand-computed means and sample standard deviations.
#include "zimt/experiments/aggregate.hpp"
#include "zimt/experiments/sweep.hpp"
#include "zimt/experiments/sweep_report.hpp"

#include <doctest/doctest.h>

#include <unistd.h>
#include <fstream>

using nlohmann::json;
using namespace zimt::experiments;
namespace fs = std::filesystem;

namespace {

void write(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

// A sweep directory written by hand: group A has three finished seeds (seed 3
// stops before step 20, and seed 2 logged step 10 twice, as a resumed run
// does); group B has one finished and one failed seed.
fs::path make_fixture() {
  const fs::path dir = fs::temp_directory_path() / ("zimt_test_aggregate_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  json plan = {{"runs", json::array()}};
  auto run = [&](const std::string& name, const std::string& group, int seed, const std::string& status,
                 const std::string& metrics, double final_acc, double wall) {
    plan["runs"].push_back({{"name", name}, {"group", group}, {"seed", seed}, {"hash", "x"}});
    write(dir / name / "metrics.jsonl", metrics);
    write(dir / name / "summary.json",
          json({{"status", status}, {"final_test_acc", final_acc}, {"best_test_acc", final_acc}, {"wall_s", wall}})
              .dump());
    write(dir / name / "train.log", "starting\nepoch 1 done\n");
  };
  run("A-s1", "A", 1, "finished",
      "{\"step\":0,\"epoch\":0,\"test_acc\":0.1,\"test_loss\":2.0}\n"
      "{\"step\":10,\"epoch\":0.5,\"test_acc\":0.6,\"test_loss\":1.0}\n"
      "{\"step\":20,\"epoch\":1,\"test_acc\":0.8,\"test_loss\":0.5}\n",
      0.8, 10);
  run("A-s2", "A", 2, "finished",
      "{\"step\":0,\"epoch\":0,\"test_acc\":0.2,\"test_loss\":2.0}\n"
      "{\"step\":10,\"epoch\":0.5,\"test_acc\":0.1,\"test_loss\":9.0}\n"
      "{\"step\":10,\"epoch\":0.5,\"test_acc\":0.7,\"test_loss\":1.0}\n"
      "{\"step\":20,\"epoch\":1,\"test_acc\":0.9,\"test_loss\":0.25}\n",
      0.9, 20);
  run("A-s3", "A", 3, "finished",
      "{\"step\":0,\"epoch\":0,\"test_acc\":0.3,\"test_loss\":2.0}\n"
      "{\"step\":10,\"epoch\":0.5,\"test_acc\":0.8,\"test_loss\":1.0}\n",
      0.8, 30);
  run("B-s1", "B", 1, "finished", "{\"step\":0,\"epoch\":0,\"test_acc\":0.5,\"test_loss\":1.5}\n", 0.5, 5);
  run("B-s2", "B", 2, "failed", "{\"step\":0,\"epoch\":0,\"test_acc\":0.9,\"test_loss\":0.1}\n", 0.9, 5);
  // The hash check of finished runs needs a config.resolved.json hashing to the plan's hash.
  for (json& r : plan["runs"]) {
    const json config = {{"run", r["name"]}};
    r["hash"] = config_hash(config);
    write(dir / r["name"].get<std::string>() / "config.resolved.json", config.dump());
  }
  write(dir / "plan.json", plan.dump());
  return dir;
}

}  // namespace

TEST_CASE("aggregate: mean and sample std by hand") {
  const MeanStd s = mean_std({0.1, 0.2, 0.3});
  CHECK(s.n == 3);
  CHECK(s.mean == doctest::Approx(0.2).epsilon(1e-12));
  CHECK(*s.std == doctest::Approx(0.1).epsilon(1e-12));  // sqrt((0.01 + 0 + 0.01) / 2)
  const MeanStd t = mean_std({2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0});
  CHECK(t.mean == 5.0);
  CHECK(*t.std == doctest::Approx(2.138089935299395).epsilon(1e-12));  // sqrt(32 / 7)
  CHECK_FALSE(mean_std({3.0}).std.has_value());
  CHECK(mean_std({}).n == 0);
}

TEST_CASE("aggregate: groups over seeds, per step, finished runs only") {
  const fs::path dir = make_fixture();
  const SweepAggregate agg = aggregate_runs(read_sweep_runs(dir));
  REQUIRE(agg.groups.size() == 2);
  const GroupStats& a = agg.groups[0];
  CHECK(a.name == "A");
  CHECK(a.runs == 3);
  CHECK(a.finished == 3);
  REQUIRE(a.steps.size() == 3);
  CHECK(a.steps[0].n == 3);
  CHECK(a.steps[0].metrics.at("test_acc").mean == doctest::Approx(0.2).epsilon(1e-12));
  CHECK(*a.steps[0].metrics.at("test_acc").std == doctest::Approx(0.1).epsilon(1e-12));
  CHECK(*a.steps[0].metrics.at("test_loss").std == 0.0);
  // Step 10: seed 2's second line (0.7) replaces its first (0.1).
  CHECK(a.steps[1].n == 3);
  CHECK(a.steps[1].metrics.at("test_acc").mean == doctest::Approx(0.7).epsilon(1e-12));
  CHECK(*a.steps[1].metrics.at("test_acc").std == doctest::Approx(0.1).epsilon(1e-12));
  CHECK(a.steps[1].metrics.at("epoch").mean == 0.5);
  // Step 20: seeds 1 and 2 only.
  CHECK(a.steps[2].n == 2);
  CHECK(a.steps[2].metrics.at("test_acc").mean == doctest::Approx(0.85).epsilon(1e-12));
  CHECK(*a.steps[2].metrics.at("test_acc").std ==
        doctest::Approx(0.0707106781186548).epsilon(1e-12));  // 0.05 * sqrt(2)
  CHECK(a.steps[2].metrics.at("test_loss").mean == 0.375);
  CHECK(a.summary.at("wall_s").mean == 20.0);
  CHECK(*a.summary.at("wall_s").std == 10.0);

  const GroupStats& b = agg.groups[1];
  CHECK(b.runs == 2);
  CHECK(b.finished == 1);
  CHECK(b.steps[0].metrics.at("test_acc").mean == 0.5);  // the failed run's 0.9 is not averaged in
  CHECK_FALSE(b.steps[0].metrics.at("test_acc").std.has_value());
  REQUIRE(agg.unfinished.size() == 1);
  CHECK(agg.unfinished[0].name == "B-s2");
  CHECK(agg.unfinished[0].status == "failed");
  CHECK(agg.unfinished[0].last_log == "epoch 1 done");
  CHECK(agg.metric_names == std::vector<std::string>{"test_acc", "test_loss"});
  fs::remove_all(dir);
}

TEST_CASE("aggregate: CSV, Markdown and JSON outputs") {
  const fs::path dir = make_fixture();
  const SweepAggregate agg = write_sweep_report(dir, PlotX::step);
  std::ifstream csv(dir / "aggregate.csv");
  std::string header, row0, row1, row2, row3;
  std::getline(csv, header);
  std::getline(csv, row0);
  std::getline(csv, row1);
  std::getline(csv, row2);
  std::getline(csv, row3);
  CHECK(header == "group,step,epoch,n,test_acc_mean,test_acc_std,test_loss_mean,test_loss_std");
  CHECK(row0 == "A,0,0,3,0.2,0.1,2,0");
  CHECK(row2 == "A,20,1,2,0.85,0.0707106781,0.375,0.176776695");
  CHECK(row3 == "B,0,0,1,0.5,,1.5,");  // one seed: std undefined, left empty
  const std::string md = summary_markdown(agg);
  CHECK(md.find("| A | 3/3 | 83.33 ± 5.77 | 83.33 ± 5.77 | 20s |") != std::string::npos);
  CHECK(md.find("| B | 1/2 | 50.00 | 50.00 | 5s |") != std::string::npos);
  CHECK(md.find("- B-s2: failed") != std::string::npos);
  const json js = summary_json(agg);
  CHECK(js["groups"][0]["final_test_acc"]["mean"].get<double>() == doctest::Approx(2.5 / 3).epsilon(1e-12));
  CHECK(js["groups"][1]["final_test_acc"]["std"].is_null());
  CHECK(js["unfinished"][0]["run"] == "B-s2");
  CHECK(fs::exists(dir / "test_acc.svg"));
  CHECK(fs::exists(dir / "test_loss.svg"));
  fs::remove_all(dir);
}
