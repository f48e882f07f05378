// Whole-model gradient agreement (the heart of the engine): the
// integer engine against the float reference model on the same integer
// weights (a dense integer start) and the same input, per weight tensor:
//   cosine similarity >= the model's bound: 1 - 2·(1 - the measured
//     minimum), i.e. twice the measured distance from 1 as the margin,
//   sign agreement >= 90 % over the entries whose float gradient is nonzero,
//   at most 5 % of those flushed to zero,
//   no nonzero integer gradient where the float one is exactly zero.
// The per-tensor table is printed (MESSAGE) for the record.
#include <doctest/doctest.h>

#include <filesystem>

#include "float_model.hpp"
#include "synthetic_batch.hpp"
#include "zimt/optim/init.hpp"
#include "zimt/optim/zim_optimizer.hpp"
#include "zimt/runs/model_spec.hpp"
#include "zimt/train_step.hpp"

using namespace zimt;

namespace {

const std::filesystem::path models_dir = std::filesystem::path(ZIMT_SOURCE_DIR) / "configs" / "models";

// MNIST's normalisation (mean 0.1307, std 0.3081) in Q32.32.
const InputNorm mnist_norm{static_cast<int64_t>(0.1307 * 4294967296.0 + 0.5),
                           static_cast<int64_t>(0.3081 * 4294967296.0 + 0.5)};

ModelSpec load(const char* name) { return runs::load_named_model_spec(name, models_dir); }

// One compute_gradients on `batch` and the float reference on the same weights and
// the same (dequantised int8) input: the integer step's result, the float
// pass, and the per-tensor gradient agreement.
struct Measured {
  BatchCounters step;
  ref::FloatPass fp;
  std::vector<ref::GradAgreement> rows;
};

Measured measure(Model& model, const ref::Batch& batch, int64_t N) {
  Measured m;
  Arena arena;
  m.step = compute_gradients(model, batch.images.data(), batch.labels.data(), N, mnist_norm, arena);
  ref::Owned<int8_t> x(model_input_shape(model, N));
  auto xv = x.view();
  normalize_input(xv, batch.images.data(), mnist_norm);
  const std::vector<int32_t> labels(batch.labels.begin(), batch.labels.end());
  m.fp = ref::float_model_pass(model, ref::real(x.view()), labels, N);
  m.rows = ref::gradient_agreement(model.params, m.fp);
  return m;
}

struct Targets {
  double min_cosine = 0.999;
  double min_sign_agree = 0.90;
  double max_flushed = 0.05;
  int64_t max_spurious = 0;
};

// Runs the comparison, prints the table and asserts the targets.
// Returns the per-tensor rows.
std::vector<ref::GradAgreement> check_agreement(const ModelSpec& spec, int64_t N, uint64_t seed, const Targets& t) {
  Model model = build_model(spec);
  const std::string name = spec.name + " (block_activations " + activation_width_name(spec.block_activations) +
                           ", norm_activations " + activation_width_name(spec.norm_activations) + ")";
  ref::dense_integer_start(model.params, seed);
  const auto [step, fp, rows] = measure(model, ref::synthetic_batch(model, N, seed), N);
  MESSAGE(name << ", batch " << N << ", dense integer start (seed " << seed << "): loss int "
               << double(step.loss_sum_q16) / 65536.0 / double(N) << " float " << fp.loss << ", LN saturated "
               << step.act_saturated << "\n"
               << ref::format_agreement(rows));
  // Loss: the logits are LayerNorm outputs rounded to a step <= 2^-5 (|ŷ| <= 3
  // for 10 logits), and cross-entropy moves by at most 2·max|Δz|: 0.03 from
  // the last rounding; the earlier layers' forward error adds less. Bound 0.05.
  CHECK(std::abs(double(step.loss_sum_q16) / 65536.0 / double(N) - fp.loss) < 0.05);
  for (const auto& r : rows) {
    CAPTURE(r.name);
    CHECK(r.ref_nonzero > 0);
    CHECK(r.cosine >= t.min_cosine);
    CHECK(r.signs.agree >= t.min_sign_agree);
    CHECK(r.signs.flushed <= t.max_flushed);
    CHECK(r.signs.spurious <= t.max_spurious);
  }
  return rows;
}

}  // namespace

// Measured: cosine 1.0000 (4 decimals) for every tensor.
TEST_CASE("mnist_cnn gradients agree with the float reference") { check_agreement(load("mnist_cnn"), 32, 1, {}); }

// Where the residual models lose agreement (measured by running the float
// backward on the integer forward's activations, and swapping single
// activation kinds back to float): the integer backward itself agrees with
// float to cosine 1.0000 and >= 99.9 % signs on the same activations; the
// loss is the ReLU masks, i.e. the signs of the pre-activations. Plain
// rounding turned small positive pre-activations into dead units (small_resnet
// stem: 692 of 22,894 positive LayerNorm outputs, sign agreement 85 %); with
// sign-keeping requantisation (quant.hpp) the stem agrees to 96 %.
// Measured: smallest cosine 0.9860 (layer1.0.conv1), signs >= 94.9 %.
TEST_CASE("small_resnet gradients agree with the float reference") {
  check_agreement(load("small_resnet"), 32, 2, {.min_cosine = 0.972});
}

// Measured: cosine 1.0000 (4 decimals) for every tensor.
TEST_CASE("mlp gradients agree with the float reference") { check_agreement(load("mlp"), 32, 3, {}); }

// ResNet-18 at batch 2 with its shipped int16 block activations
// (configs/models/resnet18.json, layers/residual.hpp, the int16 stem of
// model.hpp) meets every target. Also measured (not run here): batch 2
// seeds 5, 6, batch 8 seeds 4, 7, batch 32 seed 4: cosine >= 0.9948, signs
// >= 93.9 %, flushed <= 1.75 %, no nonzero gradient where float's is 0
// (int8 blocks at batch 32: cosine 0.93, signs 87 %, up to 1,280).
// Here (batch 2, seed 4): smallest cosine 0.9991, signs >= 99.2 %.
TEST_CASE("resnet18 gradients agree with the float reference") {
  check_agreement(load("resnet18"), 2, 4, {.min_cosine = 0.998});
}

// The same model with int8 block activations: the trade-off, asserted with
// the same margin rule on what is measured (batch 2, seed 4): smallest
// cosine 0.9257, signs >= 82.1 %, flushed <= 2.47 %, up to 2,304 nonzero
// integer gradients where float is exactly 0 (bounds: 0.85, 64 %, 5 %,
// 4,608), and such gradients do occur (what int16 blocks remove). The cause is the ReLU masks:
// the exact integer pre-activation and the float one have opposite signs
// for 7-40 of 0.5-4.7k positive units per block ReLU, from the int8 GEMM
// inputs (block inputs, a1): a relative rounding noise e of ~1 % per int8
// activation flips the sign of a pre-activation with probability ~e/π
// (0.3 %), and 17 such layers at batch 2 with 1x1..4x4 maps turn each flip
// into whole weight columns; a flipped unit in a channel that is dead in
// float (all <= 0 over the batch) gives the exact-zero violations. Batch 8
// and 32 measure the same (signs 86-96 %), and neither nearest nor
// sign-keeping rounding removes it.
TEST_CASE("resnet18 with int8 block activations: lower agreement, within measured bounds") {
  ModelSpec spec = load("resnet18");
  spec.block_activations = ActivationWidth::int8;
  const std::vector<ref::GradAgreement> rows =
      check_agreement(spec, 2, 4, {.min_cosine = 0.85, .min_sign_agree = 0.64, .max_spurious = 4608});
  int64_t spurious = 0;
  for (const auto& r : rows) spurious += r.signs.spurious;
  CHECK(spurious > 0);
}

namespace {

// A synthetic MNIST-shaped 10-class set (30 % of the pixels noise): batch
// `index` of size N.
ref::Batch noisy_batch(const Model& model, int64_t N, uint64_t index) {
  return ref::synthetic_batch(model, N, 3, index * static_cast<uint64_t>(N), 65536 * 3 / 10);
}

// Fraction of the float-nonzero gradient entries of `model` (after a
// compute_gradients on `b`) whose sign the integer gradient gets wrong, per tensor.
std::vector<double> wrong_signs(Model& model, const ref::Batch& b, int64_t N) {
  std::vector<double> wrong;
  for (const auto& r : measure(model, b, N).rows) wrong.push_back(1 - r.signs.agree);
  return wrong;
}

}  // namespace

// Why the MLP needs int16 norm activations (docs/design.md, Precision
// policy): agreement at the start is not
// enough. After training, fc2's rows are large and nearly orthogonal to the
// hidden LayerNorm's output h, so the logits are small projections: an int8
// h (rounding ~2 % of its norm) put ~10 % errors into the logits on MNIST
// after 10 epochs, and fc1's gradient signs agreed with float on only 77 %
// of the entries (99 % with int16 norm activations, mlp.json). Here: 1,200
// steps of the authors' rule from the dense start on noisy synthetic data,
// then the same weights run with int8 and with int16 norm activations.
// Measured: wrong signs with int8 fc1 4.1 %, fc2 6.4 %; with int16 0.3 %,
// 0.5 %. (Without the int16 LayerNorm output, a mutation: 4.8 %, 4.6 %.)
TEST_CASE("mlp after training: int16 norm activations keep the gradient signs int8 ones lose") {
  const int64_t N = 64;
  Model model = build_model(load("mlp"), WeightStorage::int16);
  REQUIRE(model.spec.norm_activations == ActivationWidth::int16);
  optim::initialize(model.params, optim::InitKind::dense, 1);
  optim::ZimOptimizer zim(optim::ZimParams{});  // the authors' rule, n = d, c = 1
  Arena arena;
  for (uint64_t step = 0; step < 1200; ++step) {
    const ref::Batch b = noisy_batch(model, N, step);
    compute_gradients(model, b.images.data(), b.labels.data(), N, mnist_norm, arena);
    zim.step(model.params, 1, step);
  }
  ModelSpec narrow_spec = model.spec;
  narrow_spec.norm_activations = ActivationWidth::int8;
  Model narrow = build_model(narrow_spec, WeightStorage::int16);
  narrow.params.w = model.params.w;

  std::vector<double> wide_wrong(model.params.tensors.size()), narrow_wrong(wide_wrong.size());
  const int batches = 4;
  for (int k = 0; k < batches; ++k) {
    const ref::Batch b = noisy_batch(model, N, 100000 + static_cast<uint64_t>(k));
    const auto w16 = wrong_signs(model, b, N), w8 = wrong_signs(narrow, b, N);
    for (size_t t = 0; t < w16.size(); ++t) wide_wrong[t] += w16[t] / batches, narrow_wrong[t] += w8[t] / batches;
  }
  for (size_t t = 0; t < wide_wrong.size(); ++t) {
    CAPTURE(model.params.tensors[t].name);
    MESSAGE(model.params.tensors[t].name << ": wrong gradient signs, int16 norm activations " << 100 * wide_wrong[t]
                                         << " %, int8 " << 100 * narrow_wrong[t] << " %");
    CHECK(wide_wrong[t] <= 0.015);
  }
  // The weight tensors: int16 at least 3x fewer wrong signs than int8.
  for (size_t t : {size_t{0}, size_t{2}}) CHECK(3 * wide_wrong[t] <= narrow_wrong[t]);
}
