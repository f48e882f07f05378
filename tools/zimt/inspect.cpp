#include "commands.hpp"
namespace zimt::cli {
void add_inspect(CLI::App& app) { app.add_subcommand("inspect", "Print a .zds file's header, class histogram and a preview"); }
}  // namespace zimt::cli
