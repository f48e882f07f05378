// `zimt train CONFIG [--resume] [--overwrite] [--set /ptr=value ...] [--quiet]`
#include "commands.hpp"
#include "launched_group.hpp"

#include "zimt/runs/config.hpp"
#include "zimt/runs/config_enums.hpp"
#include "zimt/runs/memory_limit.hpp"
#include "zimt/runs/trainer.hpp"

#include <cstdlib>

namespace zimt::cli {

void add_train(CLI::App& app) {
  auto* cmd = app.add_subcommand("train", "Train a model from a JSON experiment config into its run directory");
  struct Options {
    std::string config;
    std::vector<std::string> overrides;
    runs::TrainOptions train;
    std::string memory_limit;
  };
  auto opts = std::make_shared<Options>();
  cmd->add_option("config", opts->config, "Run config (JSON); see configs/ and `zimt config show`")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--set", opts->overrides, "Override a config value: --set /train/epochs=3 (repeatable)");
  cmd->add_flag("--resume", opts->train.resume,
                "Continue from the newest checkpoint in the run directory (a fresh start if there is none)");
  cmd->add_flag("--overwrite", opts->train.overwrite, "Delete an existing run in the run directory and start again");
  cmd->add_option(
      "--memory-limit", opts->memory_limit,
      "Refuse a run whose estimated memory exceeds this (bytes, or 512M, 8G; default: the machine's memory)");
  cmd->add_flag("-q,--quiet", opts->train.quiet, "No progress output (train.log is still written)");
  cmd->footer(
      "The run directory (/output/dir) receives config.resolved.json, metrics.jsonl/.csv, summary.json,\n"
      "checkpoints/ and train.log. Ctrl-C writes a checkpoint; rerun with --resume to continue bit-exactly.\n\n"
      "Config options with fixed values:\n" +
      runs::enum_options_help());
  cmd->callback([opts]() {
    opts->train.source = opts->config;
    if (!opts->memory_limit.empty()) opts->train.memory_limit = runs::parse_memory_size(opts->memory_limit);
    const auto resolved = runs::load_resolved_config(opts->config, opts->overrides);
    // Under mpirun every process trains its share of each batch (trainer.hpp).
    std::unique_ptr<runs::ProcessGroup> group = join_launched_group();
    opts->train.group = group.get();
    int code = 0;
    try {
      code = runs::train(runs::to_run_config(resolved, opts->config), resolved, opts->train);
    } catch (const std::exception& e) {
      if (group && group->size() > 1) abort_group(*group, e);
      throw;
    }
    group.reset();  // every process leaves MPI before exiting
    if (code != 0) std::exit(code);
  });
}

}  // namespace zimt::cli
