// libFuzzer harness: run configs as `zimt train` and `zimt config show` read
// them: the file with its "base" chain, `--set` overrides, defaults, model
// expansion and validation, then the typed run config. The input is split at
// NULs: part 0 is run.json, parts 1 and 2 are a.json and b.json in the same
// directory (reachable as "base": "a.json"), every further part is one
// `--set` string.
#include "fuzz_support.hpp"
#include "zimt/runs/config.hpp"
#include "zimt/runs/run_config.hpp"

#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto parts = zimt::fuzz::split_parts(data, size, 8);
  const auto run = zimt::fuzz::write_scratch("run.json", parts[0]);
  zimt::fuzz::write_scratch("a.json", parts.size() > 1 ? parts[1] : "");
  zimt::fuzz::write_scratch("b.json", parts.size() > 2 ? parts[2] : "");
  std::vector<std::string> overrides;
  for (size_t i = 3; i < parts.size(); ++i) overrides.emplace_back(parts[i]);
  zimt::fuzz::expect_clean_errors([&] {
    const auto resolved = zimt::runs::load_resolved_config(run, overrides);
    zimt::runs::RunConfig config = zimt::runs::to_run_config(resolved, run.string());
    zimt::runs::set_run_length(config, 1000);
  });
  return 0;
}
