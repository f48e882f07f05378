// The training step: input normalisation in fixed point against its float
// formula and against its definition, compute_gradients' loss/correct against eval_batch, and a few
// training steps (train_step with sign descent) on the tiny model lowering
// the loss.
#include "zimt/train_step.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "float_model.hpp"
#include "synthetic_batch.hpp"
#include "zimt/quant.hpp"
#include "zimt/rng.hpp"
#include "zimt/runs/model_spec.hpp"

using namespace zimt;

namespace {
const std::filesystem::path models_dir = std::filesystem::path(ZIMT_SOURCE_DIR) / "configs" / "models";
const InputNorm mnist_norm{561352226, 1323279424};  // 0.1307, 0.3081 in Q32.32
}  // namespace

TEST_CASE("input normalisation matches (p/255 - mean)/std within half an int8 step") {
  Model model = build_model(runs::load_named_model_spec("tiny", models_dir));
  const int64_t N = 3, M = 144;
  std::vector<uint8_t> images(static_cast<size_t>(N * M));
  for (int64_t i = 0; i < N * M; ++i) images[static_cast<size_t>(i)] = static_cast<uint8_t>((i * 37) % 256);
  for (int64_t i = 0; i < M; ++i) images[static_cast<size_t>(M + i)] = 0;  // a black sample
  ref::Owned<int8_t> x(model_input_shape(model, N));
  auto xv = x.view();
  normalize_input(xv, images.data(), mnist_norm);
  const double mean = 561352226 / 4294967296.0, sd = 1323279424 / 4294967296.0;
  ref::Vec want(static_cast<size_t>(N * M));
  for (size_t i = 0; i < want.size(); ++i) want[i] = (images[i] / 255.0 - mean) / sd;
  // One requantize_i8 (0.5 step, or up to 1 step for a value below half a
  // step kept at ±1: quant.hpp) after an exact Q24 value (2^-25).
  CHECK(ref::max_ratio(ref::real(x.view()), want, ref::error_signal_bounds(want, ref::steps(x.view()))) <= 1 + 1e-4);
  // The black sample is constant -0.4242 -> -0.4242 / 2^-8 = -108.6 -> -109.
  CHECK(x.exp[1] == -8);
  CHECK(x.data[static_cast<size_t>(M)] == -109);
}

TEST_CASE("input normalisation is, per sample, requantize_i8 of its pixels' table values") {
  // normalize_input requantises only the table's run between a sample's
  // smallest and largest pixel and spreads it by a byte lookup; the
  // definition requantises every pixel's value. Samples of one value, of
  // the two extremes, of a narrow band and of every value; norms that
  // saturate the table at both ends.
  Model model = build_model(runs::load_named_model_spec("tiny", models_dir));
  const int64_t N = 6, M = 144;
  std::vector<uint8_t> images(static_cast<size_t>(N * M));
  for (int64_t i = 0; i < M; ++i) {
    auto at = [&](int64_t n) -> uint8_t& { return images[static_cast<size_t>(n * M + i)]; };
    at(0) = 0;
    at(1) = 255;
    at(2) = i % 2 == 0 ? 0 : 255;
    at(3) = static_cast<uint8_t>(100 + i % 7);
    at(4) = static_cast<uint8_t>((i * 97 + 13) % 256);
    at(5) = static_cast<uint8_t>(philox(3, Stream::test_data, 0, static_cast<uint64_t>(i))[0] % 256);
  }
  for (const InputNorm& norm : {mnist_norm, InputNorm{0, int64_t{1} << 32}, InputNorm{0, 1},
                                InputNorm{int64_t{1} << 62, 1}, InputNorm{-(int64_t{1} << 62), 1 << 20}}) {
    CAPTURE(norm.mean_q32);
    CAPTURE(norm.std_q32);
    const std::array<int64_t, 256> table = input_table(norm);
    CHECK(std::is_sorted(table.begin(), table.end()));
    ref::Owned<int8_t> x(model_input_shape(model, N));
    auto xv = x.view();
    normalize_input(xv, images.data(), norm);
    for (int64_t n = 0; n < N; ++n) {
      CAPTURE(n);
      std::vector<int64_t> values(static_cast<size_t>(M));
      for (int64_t i = 0; i < M; ++i) values[static_cast<size_t>(i)] = table[images[static_cast<size_t>(n * M + i)]];
      std::vector<int8_t> want(static_cast<size_t>(M));
      CHECK(x.exp[static_cast<size_t>(n)] == requantize_i8(values.data(), M, -24, want.data()));
      CHECK(std::equal(want.begin(), want.end(), x.data.begin() + n * M));
    }
  }
}

TEST_CASE("compute_gradients and the forward-only eval_batch agree on the loss and the predictions") {
  // mnist_cnn (int16 norm activations), small_resnet with int8 and int16
  // block activations (the blocks' intermediates in their own arena).
  ModelSpec wide_blocks = runs::load_named_model_spec("small_resnet", models_dir);
  wide_blocks.block_activations = ActivationWidth::int16;
  for (const ModelSpec& spec : {runs::load_named_model_spec("mnist_cnn", models_dir),
                                runs::load_named_model_spec("small_resnet", models_dir), wide_blocks}) {
    CAPTURE(spec.name);
    CAPTURE(activation_width_name(spec.block_activations));
    Model model = build_model(spec);
    ref::dense_integer_start(model.params, 3);
    const int64_t N = 16;
    const ref::Batch b = ref::synthetic_batch(model, N, 3);
    Arena arena;
    const BatchCounters t = compute_gradients(model, b.images.data(), b.labels.data(), N, mnist_norm, arena);
    std::vector<int32_t> pred(static_cast<size_t>(N));
    std::vector<int64_t> loss(static_cast<size_t>(N));
    EvalBuffers buffers;
    const BatchCounters e =
        eval_batch(model, b.images.data(), b.labels.data(), N, mnist_norm, buffers, pred.data(), loss.data());
    CHECK(t.loss_sum_q16 == e.loss_sum_q16);
    CHECK(t.correct == e.correct);
    CHECK(t.act_saturated == e.act_saturated);
    int64_t sum = 0, correct = 0;
    for (int64_t n = 0; n < N; ++n) {
      sum += loss[static_cast<size_t>(n)];
      correct += pred[static_cast<size_t>(n)] == b.labels[static_cast<size_t>(n)];
    }
    CHECK(sum == e.loss_sum_q16);
    CHECK(correct == e.correct);
  }
}

TEST_CASE("train_step: sign descent lowers the loss of the tiny model, as compute_gradients + the update") {
  // Unit steps against the gradient's sign (sign(0) = 0), weights saturated
  // at ±127: the loss on a fixed batch must go down within a few steps.
  Model model = build_model(runs::load_named_model_spec("tiny", models_dir));
  ref::dense_integer_start(model.params, 1);
  Model twin = model;
  optim::OptimizerParams sign;
  sign.type = optim::OptimizerType::sign_sgd;
  optim::Optimizer optimizer(sign);
  const int64_t N = 32;
  const ref::Batch b = ref::synthetic_batch(model, N, 1);
  Arena arena;
  StepCounters first, last;
  for (uint64_t step = 0; step < 31; ++step) {
    last = train_step(model, optimizer, b.images.data(), b.labels.data(), N, mnist_norm, 7, step, arena);
    if (step == 0) first = last;
    // The same step by hand: the gradients, then w <- clamp(w - sign(g), ±127).
    const BatchCounters by_hand = compute_gradients(twin, b.images.data(), b.labels.data(), N, mnist_norm, arena);
    CHECK(by_hand.loss_sum_q16 == last.loss_sum_q16);
    int64_t changed = 0;
    for (size_t i = 0; i < twin.params.size(); ++i) {
      const int64_t g = twin.params.g[i];
      const int w = std::clamp(twin.params.w[i] - (g > 0) + (g < 0), -127, 127);
      changed += w != twin.params.w[i];
      twin.params.w[i] = static_cast<int16_t>(w);
    }
    CHECK(last.update.changed == changed);
    CHECK(twin.params.w == model.params.w);
  }
  MESSAGE("tiny: loss " << first.loss_sum_q16 / 65536.0 / N << " -> " << last.loss_sum_q16 / 65536.0 / N << ", correct "
                        << first.correct << " -> " << last.correct << " of " << N);
  CHECK(last.loss_sum_q16 < first.loss_sum_q16);
  CHECK(last.correct >= first.correct);
}
