#include "tiny_run.hpp"

#include "zimt/data/dataset.hpp"
#include "zimt/data/synth.hpp"
#include "zimt/runs/metrics_log.hpp"

#include <fstream>

namespace zimt::test {

namespace fs = std::filesystem;
using nlohmann::json;

void make_tiny_data(const fs::path& dir) {
  data::SynthSpec spec;
  spec.samples = 2500;
  spec.classes = 4;
  spec.shape = {1, 12, 12};
  spec.seed = 1;
  spec.noise_q16 = 6554;  // 10 % of the pixels
  data::Samples all = data::synthesize(spec);
  data::Samples test;
  test.shape = all.shape;
  test.images.assign(all.images.begin() + 2000 * 144, all.images.end());
  test.labels.assign(all.labels.begin() + 2000, all.labels.end());
  all.truncate(2000);
  data::write_zds((dir / "train.zds").string(), all, 4, data::Overwrite::replace);
  data::write_zds((dir / "test.zds").string(), test, 4, data::Overwrite::replace);
}

fs::path write_tiny_config(const fs::path& dir, const std::string& run, const json& settings, const json& extra) {
  json config = {{"model", "tiny"},
                 {"data",
                  {{"train", (dir / "train.zds").string()},
                   {"test", (dir / "test.zds").string()},
                   {"normalize", {{"mean", 0.5}, {"std", 0.25}}}}},
                 {"optimizer", {{"type", "zim"}, {"rule", "authors"}, {"init", "dense"}}},
                 {"train", {{"batch_size", 32}, {"seed", 3}}},
                 {"output", {{"dir", (dir / run).string()}}}};
  config.merge_patch(settings);
  config.merge_patch(extra);
  const fs::path path = dir / (run + ".json");
  std::ofstream(path) << config.dump(2);
  return path;
}

std::string metrics_without_timing(const fs::path& run) {
  std::string out;
  for (auto row : runs::read_metrics(run / "metrics.jsonl")) {
    for (const std::string& timing : runs::metrics_timing_columns()) row.erase(timing);
    out += row.dump() + "\n";
  }
  return out;
}

}  // namespace zimt::test
