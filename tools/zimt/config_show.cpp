// `zimt config show CONFIG [--set /ptr=value ...]`: print the resolved config.
#include "commands.hpp"

#include "zimt/runs/config.hpp"
#include "zimt/runs/config_enums.hpp"

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
  };
  auto opts = std::make_shared<Options>();
  show->add_option("config", opts->path, "Config file (JSON)")->check(CLI::ExistingFile);
  show->add_option("--set", opts->overrides, "Override a value: /train/epochs=3 (repeatable)");
  show->add_flag("--defaults", opts->defaults, "Print the defaults instead of a config");
  show->footer("Config options with fixed values:\n" + runs::enum_options_help());
  show->callback([opts]() {
    if (opts->defaults) {
      std::cout << runs::default_config().dump(2) << '\n';
      return;
    }
    if (opts->path.empty()) throw CLI::RequiredError("config");
    std::cout << runs::load_resolved_config(opts->path, opts->overrides).dump(2) << '\n';
  });
}

}  // namespace zimt::cli
