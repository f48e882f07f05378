// Overflow and degenerate cases on whole models: all weights at ±127,
// inputs at their extremes, all-zero weights (every layer output zero, so
// every LayerNorm sees zero variance). Results are saturated or rescaled,
// never undefined (the UBSan CI build runs this file).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>

#include "float_model.hpp"
#include "synthetic_batch.hpp"
#include "zimt/runs/model_spec.hpp"
#include "zimt/train_step.hpp"

using namespace zimt;

namespace {

const std::filesystem::path models_dir = std::filesystem::path(ZIMT_SOURCE_DIR) / "configs" / "models";
const InputNorm mnist_norm{561352226, 1323279424};  // 0.1307, 0.3081 in Q32.32

bool all_zero(const std::vector<int64_t>& v) {
  return std::all_of(v.begin(), v.end(), [](int64_t x) { return x == 0; });
}

}  // namespace

TEST_CASE("all-zero weights: zero-variance LayerNorms give zero outputs and zero gradients") {
  // The authors' sparse start in its extreme: every layer outputs 0, every
  // LayerNorm divides by sqrt(eps). Float: logits 0, loss ln(K), and only the
  // last layer's bias gets a gradient... which the final LayerNorm removes
  // (its input is constant, so dL/d(bias) = Σ (dy - mean dy) / sqrt(eps)·... = 0
  // for a per-sample-constant shift). Every gradient is exactly 0.
  for (const char* name : {"mnist_cnn", "small_resnet", "mlp"}) {
    CAPTURE(std::string(name));
    Model model = build_model(runs::load_named_model_spec(name, models_dir));
    const int64_t N = 4;
    const ref::Batch b = ref::synthetic_batch(model, N, 1);
    Arena arena;
    const BatchCounters r = compute_gradients(model, b.images.data(), b.labels.data(), N, mnist_norm, arena);
    // loss = ln(K) per sample in Q16.
    const double expected = std::log(double(model.spec.classes));
    CHECK(std::abs(double(r.loss_sum_q16) / 65536.0 / double(N) - expected) < 1e-3);
    std::vector<int64_t> fc_bias_free;
    for (const auto& t : model.params.tensors)
      if (t.name.find("bias") == std::string::npos || t.name.rfind("fc", 0) != 0) {
        const int64_t* g = model.params.grads(&t - model.params.tensors.data());
        fc_bias_free.insert(fc_bias_free.end(), g, g + t.numel);
      }
    CHECK(all_zero(fc_bias_free));
  }
}

TEST_CASE("weights at ±127 and inputs at 0 and 255: saturated or rescaled, no overflow") {
  for (const char* name : {"mnist_cnn", "small_resnet"}) {
    CAPTURE(std::string(name));
    Model model = build_model(runs::load_named_model_spec(name, models_dir));
    for (size_t i = 0; i < model.params.size(); ++i) model.params.w[i] = (i % 3 == 0) ? -127 : 127;
    const int64_t N = 4, M = model.spec.input.numel();
    std::vector<uint8_t> images(static_cast<size_t>(N * M));
    for (int64_t i = 0; i < N * M; ++i) images[static_cast<size_t>(i)] = (i / 7) % 2 == 0 ? 255 : 0;
    std::fill(images.begin(), images.begin() + M, uint8_t{255});        // one all-white sample
    std::fill(images.begin() + M, images.begin() + 2 * M, uint8_t{0});  // one all-black sample
    std::vector<uint8_t> labels{0, 1, 2, 3};
    Arena arena;
    const BatchCounters r = compute_gradients(model, images.data(), labels.data(), N, mnist_norm, arena);
    CHECK(r.loss_sum_q16 > 0);
    // Constant samples normalise to a constant input; every exponent is defined.
    ref::Owned<int8_t> x(model_input_shape(model, N));
    auto xv = x.view();
    normalize_input(xv, images.data(), mnist_norm);
    for (int32_t e : x.exp) CHECK(std::abs(e) < 64);
    // The logits are LayerNorm outputs: bounded by sqrt(K-1) in real value,
    // so the loss is at most ln(K) + 2·sqrt(K-1) per sample.
    const double bound = std::log(double(model.spec.classes)) + 2 * std::sqrt(double(model.spec.classes - 1));
    CHECK(double(r.loss_sum_q16) / 65536.0 / double(N) <= bound);
    // Gradients exist (nothing flushed to an all-zero tensor) on sane exponents.
    CHECK(!all_zero(model.params.g));
    for (const auto& t : model.params.tensors) CHECK(std::abs(t.g_exp) < 200);
  }
}

TEST_CASE("extreme input normalisation: huge and tiny std saturate instead of overflowing") {
  Model model = build_model(runs::load_named_model_spec("tiny", models_dir));
  std::vector<uint8_t> images(144 * 2, 255), labels{0, 1};
  images[0] = 0;
  for (const InputNorm& norm : {InputNorm{0, 1}, InputNorm{int64_t{1} << 62, 1}, InputNorm{-(int64_t{1} << 62), 1},
                                InputNorm{0, int64_t{1} << 62}}) {
    Arena arena;
    const BatchCounters r = compute_gradients(model, images.data(), labels.data(), 2, norm, arena);
    CHECK(r.loss_sum_q16 >= 0);
  }
}
