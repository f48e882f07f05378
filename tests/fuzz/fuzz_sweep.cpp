// libFuzzer harness: sweep files as `zimt sweep --dry-run` reads them: the
// sweep with its base config, expanded into the plan of runs (each run's
// config resolved) and the plan document. The input is split at NULs: part 0
// is sweep.json, part 1 is base.json in the same directory (reachable as
// "base": "base.json").
#include "fuzz_support.hpp"
#include "zimt/experiments/sweep.hpp"
#include "zimt/runs/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto parts = zimt::fuzz::split_parts(data, size, 2);
  const auto sweep = zimt::fuzz::write_scratch("sweep.json", parts[0]);
  zimt::fuzz::write_scratch("base.json", parts.size() > 1 ? parts[1] : "");
  const zimt::experiments::ConfigResolver resolve = [](const nlohmann::json& config, const std::string& source) {
    return zimt::runs::resolve_config(config, {}, source);
  };
  zimt::fuzz::expect_clean_errors([&] {
    const auto spec = zimt::experiments::load_sweep_file(sweep, zimt::runs::load_config_file, resolve);
    const auto runs = zimt::experiments::expand_sweep(spec, resolve);
    zimt::experiments::plan_to_json(spec, runs).dump();
  });
  return 0;
}
