// zimt synth: a generated, deterministic .zds dataset (see zimt/data/synth.hpp).
#include "commands.hpp"

#include "zimt/data/dataset.hpp"
#include "zimt/data/synth.hpp"

#include <cmath>
#include <cstdio>
#include <memory>
#include <stdexcept>

namespace zimt::cli {

void add_synth(CLI::App& app) {
  struct Args {
    std::string output, shape = "1,12,12";
    uint64_t samples = 0, seed = 1, first = 0;
    uint32_t classes = 4;
    double noise = 0.1;
    bool force = false;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("synth", "Generate a deterministic synthetic .zds dataset (class prototypes + noise)");
  cmd->add_option("-o,--output", args->output, "Output .zds file")->required();
  cmd->add_option("--samples", args->samples, "Number of samples")->required();
  cmd->add_option("--classes", args->classes, "Number of classes (2..256)")->capture_default_str();
  cmd->add_option("--shape", args->shape, "Image shape C,H,W")->capture_default_str();
  cmd->add_option("--seed", args->seed, "Seed: the same seed gives the same bytes")->capture_default_str();
  cmd->add_option("--first", args->first,
                  "Index of the first sample: a test set is the same seed with --first past the training samples")
      ->capture_default_str();
  cmd->add_option("--noise", args->noise, "Fraction of pixels replaced by random values, 0..1")->capture_default_str();
  cmd->add_flag("--force", args->force, "Overwrite an existing output file");
  cmd->callback([args] {
    if (!(args->noise >= 0 && args->noise <= 1)) throw std::runtime_error("--noise: must be in 0..1");
    data::SynthSpec spec;
    spec.samples = args->samples;
    spec.classes = args->classes;
    spec.shape = data::parse_shape(args->shape);
    spec.seed = args->seed;
    spec.first = args->first;
    // Fixed point once, here: noise * 65536 rounded to nearest, halves away from zero.
    spec.noise_q16 = static_cast<uint32_t>(std::lround(args->noise * 65536.0));
    if (spec.samples < 1) throw std::runtime_error("--samples: must be >= 1");
    if (spec.classes < 2 || spec.classes > 256) throw std::runtime_error("--classes: must be in 2..256");
    const auto s = data::synthesize(spec);
    data::write_zds(args->output, s, spec.classes, args->force ? data::Overwrite::replace : data::Overwrite::refuse);
    std::printf("%s: %llu samples, shape %s, %u classes (synthetic, seed %llu)\n", args->output.c_str(),
                static_cast<unsigned long long>(s.count()), s.shape.str().c_str(), spec.classes,
                static_cast<unsigned long long>(spec.seed));
  });
}

}  // namespace zimt::cli
