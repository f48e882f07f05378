#include "commands.hpp"
namespace zimt::cli {
void add_convert(CLI::App& app) { app.add_subcommand("convert", "Convert a dataset (IDX, CIFAR-10, CSV) to .zds"); }
}  // namespace zimt::cli
