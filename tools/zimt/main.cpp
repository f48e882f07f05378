// zimt: integer-only neural network training with discrete (ZIM) updates.
#include "commands.hpp"

#include "zimt/runs/config_error.hpp"
#include "zimt/version.hpp"

#include <exception>
#include <iostream>
#include <string>

int main(int argc, char** argv) {
  CLI::App app{"zimt: integer-only neural network training with zero-inflated multinomial updates"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("zimt ") + zimt::kVersion);
  zimt::cli::add_convert(app);
  zimt::cli::add_inspect(app);
  zimt::cli::add_synth(app);
  zimt::cli::add_config(app);
  zimt::cli::add_train(app);
  zimt::cli::add_eval(app);
  zimt::cli::add_sweep(app);
  zimt::cli::add_report(app);
  zimt::cli::add_compare(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const zimt::runs::ConfigInvalid& e) {
    std::cerr << "zimt: invalid config: " << e.what() << '\n';
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "zimt: error: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
