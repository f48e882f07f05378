// Engine::evaluate (forward only, batches in parallel) gives the same
// predictions, loss and confusion matrix for any evaluation batch and
// thread count, and the same as the training step's forward pass
// (compute_gradients) over the whole set at once.
#include "zimt/runs/engine.hpp"

#include <doctest/doctest.h>
#include <tbb/global_control.h>
#include <unistd.h>

#include <filesystem>

#include "zimt/data/synth.hpp"
#include "zimt/runs/config.hpp"
#include "zimt/runs/model_spec.hpp"

using namespace zimt;
namespace fs = std::filesystem;

namespace {

const fs::path models_dir = fs::path(ZIMT_SOURCE_DIR) / "configs" / "models";

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("zimt_evaluate_test_" + std::to_string(::getpid()));
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
};

// `count` noisy class prototypes of the model's input shape, as a .zds file.
data::Dataset write_dataset(const fs::path& path, const ModelSpec& spec, uint64_t count) {
  data::SynthSpec s;
  s.samples = count;
  s.classes = static_cast<uint32_t>(spec.classes);
  s.shape = {static_cast<uint32_t>(spec.input.c), static_cast<uint32_t>(spec.input.h),
             static_cast<uint32_t>(spec.input.w)};
  s.seed = 9;
  s.noise_q16 = 65536 / 4;
  data::write_zds(path.string(), data::synthesize(s), s.classes, data::Overwrite::replace);
  return data::Dataset::open(path.string());
}

void check_evaluation(const ModelSpec& spec) {
  TempDir dir;
  const uint64_t count = 300;  // batches of 7, 64 and the default end with a partial one
  const data::Dataset data = write_dataset(dir.path / "test.zds", spec, count);
  runs::RunConfig config;
  config.model = spec;
  config.norm_mean = runs::to_q32(0.25);
  config.norm_std = runs::to_q32(0.5);
  runs::Engine engine(config);
  engine.initialize(optim::InitKind::dense, 4);
  const std::vector<uint32_t> all = runs::eval_subset(count, count);

  // The training step's forward pass on all samples in one batch.
  Model model = engine.model();
  Arena arena;
  std::vector<uint8_t> images(data.images(), data.images() + count * data.image_size());
  const BatchCounters whole = compute_gradients(model, images.data(), data.labels(), static_cast<int64_t>(count),
                                                {config.norm_mean, config.norm_std}, arena);
  REQUIRE(whole.correct > 0);
  REQUIRE(static_cast<uint64_t>(whole.correct) < count);  // a model that gets some wrong

  const uint64_t default_batch = runs::default_config()["train"]["eval_batch"].get<uint64_t>();
  std::vector<runs::EvalResult> results;
  for (const int threads : {1, 2}) {
    tbb::global_control c(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(threads));
    for (const uint64_t batch : {uint64_t{1}, uint64_t{7}, uint64_t{64}, count, default_batch}) {
      CAPTURE(threads);
      CAPTURE(batch);
      const runs::EvalResult e = engine.evaluate(data, all, batch);
      CHECK(e.samples == count);
      CHECK(e.correct == static_cast<uint64_t>(whole.correct));
      CHECK(e.mean_loss == runs::from_q16(whole.loss_sum_q16) / static_cast<double>(count));
      uint64_t diagonal = 0, total = 0;
      for (uint32_t i = 0; i < e.classes; ++i) diagonal += e.confusion[i * e.classes + i];
      for (const uint64_t cell : e.confusion) total += cell;
      CHECK(diagonal == e.correct);
      CHECK(total == count);
      if (!results.empty()) CHECK(e.confusion == results.front().confusion);
      results.push_back(e);
    }
  }
}

}  // namespace

TEST_CASE("evaluation is the same for batches of 1, 7, 64, all and the default, at 1 and 2 threads: mnist_cnn") {
  check_evaluation(runs::load_named_model_spec("mnist_cnn", models_dir));
}

TEST_CASE("evaluation is the same for batches of 1, 7, 64, all and the default, at 1 and 2 threads: small_resnet") {
  ModelSpec spec = runs::load_named_model_spec("small_resnet", models_dir);
  check_evaluation(spec);
  spec.block_activations = ActivationWidth::int16;
  check_evaluation(spec);
}
