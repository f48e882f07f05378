// Whole models give bit-identical outputs and gradients at 1, 2 and 4
// threads (tbb::global_control): every parallel loop owns its outputs and
// every reduction is an exact integer sum.
#include <doctest/doctest.h>
#include <tbb/global_control.h>

#include <filesystem>

#include "float_model.hpp"
#include "synthetic_batch.hpp"
#include "zimt/runs/model_spec.hpp"
#include "zimt/train_step.hpp"

using namespace zimt;

namespace {

const std::filesystem::path models_dir = std::filesystem::path(ZIMT_SOURCE_DIR) / "configs" / "models";

struct Outcome {
  BatchCounters step;
  std::vector<int64_t> g;
  std::vector<int32_t> g_exp;
  std::vector<int32_t> pred;
  std::vector<int64_t> loss;
};

Outcome run(const ModelSpec& spec, int64_t N, int threads) {
  tbb::global_control c(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(threads));
  Model model = build_model(spec);
  ref::dense_integer_start(model.params, 5);
  const ref::Batch b = ref::synthetic_batch(model, N, 6);
  const InputNorm norm{561352226, 1323279424};  // 0.1307, 0.3081 in Q32.32
  Arena arena;
  Outcome o;
  o.step = compute_gradients(model, b.images.data(), b.labels.data(), N, norm, arena);
  o.g = model.params.g;
  for (const auto& t : model.params.tensors) o.g_exp.push_back(t.g_exp);
  o.pred.resize(static_cast<size_t>(N));
  o.loss.resize(static_cast<size_t>(N));
  EvalBuffers buffers;
  eval_batch(model, b.images.data(), b.labels.data(), N, norm, buffers, o.pred.data(), o.loss.data());
  return o;
}

void check_threads(const ModelSpec& spec, int64_t N) {
  const Outcome one = run(spec, N, 1);
  for (int threads : {2, 4}) {
    CAPTURE(threads);
    const Outcome o = run(spec, N, threads);
    CHECK(o.step.loss_sum_q16 == one.step.loss_sum_q16);
    CHECK(o.step.correct == one.step.correct);
    CHECK(o.step.act_saturated == one.step.act_saturated);
    CHECK(o.g == one.g);
    CHECK(o.g_exp == one.g_exp);
    CHECK(o.pred == one.pred);
    CHECK(o.loss == one.loss);
  }
}

ModelSpec load(const char* name) { return runs::load_named_model_spec(name, models_dir); }

}  // namespace

TEST_CASE("mnist_cnn is bit-identical at 1, 2 and 4 threads") { check_threads(load("mnist_cnn"), 16); }
TEST_CASE("small_resnet is bit-identical at 1, 2 and 4 threads") { check_threads(load("small_resnet"), 16); }
// resnet18.json has int16 block activations; small_resnet is checked with both.
TEST_CASE("small_resnet with int16 block activations is bit-identical at 1, 2 and 4 threads") {
  ModelSpec spec = load("small_resnet");
  spec.block_activations = ActivationWidth::int16;
  check_threads(spec, 16);
}
TEST_CASE("mlp (int16 norm activations) is bit-identical at 1, 2 and 4 threads") { check_threads(load("mlp"), 16); }

// mnist_cnn.json has int16 norm activations; the int8 path is checked here.
TEST_CASE("mnist_cnn with int8 norm activations is bit-identical at 1, 2 and 4 threads") {
  ModelSpec spec = load("mnist_cnn");
  spec.norm_activations = ActivationWidth::int8;
  check_threads(spec, 16);
}

TEST_CASE("resnet18 is bit-identical at 1, 2 and 4 threads") { check_threads(load("resnet18"), 3); }
