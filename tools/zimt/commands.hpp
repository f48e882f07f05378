#pragma once
// Each subcommand lives in its own file and registers itself on the app.
#include <CLI/CLI.hpp>

namespace zimt::cli {

void add_convert(CLI::App& app);
void add_inspect(CLI::App& app);
void add_synth(CLI::App& app);
void add_config(CLI::App& app);
void add_train(CLI::App& app);
void add_eval(CLI::App& app);
void add_sweep(CLI::App& app);
void add_report(CLI::App& app);
void add_compare(CLI::App& app);

}  // namespace zimt::cli
