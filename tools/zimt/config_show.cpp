// `zimt config show CONFIG [--set /ptr=value ...] [--model]`: print the resolved
// config, or the model it builds (layers with their activation widths).
#include "commands.hpp"

#include "zimt/model.hpp"
#include "zimt/runs/config.hpp"
#include "zimt/runs/config_enums.hpp"
#include "zimt/runs/run_config.hpp"

#include <iostream>

namespace zimt::cli {

void add_config(CLI::App& app) {
  auto* config = app.add_subcommand("config", "Inspect run configs");
  config->require_subcommand(1);
  auto* show = config->add_subcommand(
      "show", "Print the fully resolved config: base chain merged, overrides applied, defaults filled, model expanded");
  struct Options {
    std::string path;
    std::vector<std::string> overrides;
    bool defaults = false;
    bool model = false;
  };
  auto opts = std::make_shared<Options>();
  show->add_option("config", opts->path, "Config file (JSON)")->check(CLI::ExistingFile);
  show->add_option("--set", opts->overrides, "Override a value: /train/epochs=3 (repeatable)");
  show->add_flag("--defaults", opts->defaults, "Print the defaults instead of a config");
  show->add_flag("--model", opts->model,
                 "Print the model the config builds instead: each layer's kind, input and output activation width "
                 "(int8/int16, set by the precision policy), output shape and parameter count");
  show->footer("Config options with fixed values:\n" + runs::enum_options_help());
  show->callback([opts]() {
    if (opts->defaults) {
      std::cout << runs::default_config().dump(2) << '\n';
      return;
    }
    if (opts->path.empty()) throw CLI::RequiredError("config");
    const nlohmann::json resolved = runs::load_resolved_config(opts->path, opts->overrides);
    if (opts->model) {
      const runs::RunConfig config = runs::to_run_config(resolved, opts->path);
      std::cout << describe(build_model(config.model, config.storage));
      return;
    }
    std::cout << resolved.dump(2) << '\n';
  });
}

}  // namespace zimt::cli
