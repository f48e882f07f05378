// zimt convert: IDX / CIFAR-10 / CSV -> .zds (zimt::data::convert does the work).
#include "commands.hpp"

#include "zimt/data/convert.hpp"

#include <chrono>
#include <cstdio>
#include <memory>

namespace zimt::cli {

void add_convert(CLI::App& app) {
  struct Args {
    data::ConvertOptions o;
    std::string format = "auto", shape;
    uint32_t classes = 0;
    uint64_t limit = 0;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("convert", "Convert a dataset (IDX, CIFAR-10, CSV) to .zds");
  cmd->footer(
      "Examples:\n"
      "  zimt convert --images train-images-idx3-ubyte.gz --labels train-labels-idx1-ubyte.gz -o train.zds\n"
      "  zimt convert --cifar data_batch_1.bin data_batch_2.bin -o train.zds --split 0.1 --split-out val.zds\n"
      "  zimt convert --csv digits.csv --shape 1,8,8 -o digits.zds");
  cmd->add_option("inputs", args->o.inputs, "Input files, format from their content (or --format)");
  cmd->add_option("-o,--output", args->o.output, "Output .zds file")->required();
  cmd->add_option("--images", args->o.images, "IDX images file (idx3 u8, raw or .gz)");
  cmd->add_option("--labels", args->o.labels, "IDX labels file (idx1 u8, raw or .gz)");
  cmd->add_option("--cifar", args->o.cifar, "CIFAR-10 binary batch files, concatenated in order");
  cmd->add_option("--csv", args->o.csv, "CSV file: label,p0,p1,... per line (header line optional)");
  cmd->add_option("--format", args->format, "Format of the input files: idx, cifar, csv or auto")
      ->capture_default_str();
  cmd->add_option("--shape", args->shape, "Image shape C,H,W (CSV input)");
  cmd->add_option("--classes", args->classes, "Class count (default: largest label + 1)");
  cmd->add_option("--limit", args->limit, "Keep only the first N samples");
  cmd->add_option("--split", args->o.split, "Hold out a validation part: a fraction (0.1) or a count (5000)");
  cmd->add_option("--split-seed", args->o.split_seed, "Seed of the hold-out choice")->capture_default_str();
  cmd->add_option("--split-out", args->o.split_out, "Output .zds file for the held-out part");
  cmd->add_flag("--force", args->o.force, "Overwrite existing output files");
  cmd->callback([args, cmd] {
    data::ConvertOptions o = args->o;
    o.format = data::parse_format(args->format);
    if (!args->shape.empty()) o.shape = data::parse_shape(args->shape);
    if (cmd->count("--classes") > 0) o.classes = args->classes;
    if (cmd->count("--limit") > 0) o.limit = args->limit;
    const auto start = std::chrono::steady_clock::now();
    const auto r = data::convert(o);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("%s: %llu samples, shape %s, %u classes", o.output.c_str(), static_cast<unsigned long long>(r.written),
                r.shape.str().c_str(), r.classes);
    if (r.held_out > 0) {
      std::printf("; %s: %llu held-out samples", o.split_out.c_str(), static_cast<unsigned long long>(r.held_out));
    }
    std::printf(" (%.2f s)\n", seconds);
  });
}

}  // namespace zimt::cli
