// The residual basic block: identity and projection shortcuts against the
// float reference (through a whole small model, so the block is checked in
// context), and the per-sample additions.
#include "layer_spec.hpp"
#include "zimt/layers/residual.hpp"

#include <doctest/doctest.h>

#include <tbb/global_control.h>

#include <cmath>
#include <random>

#include "float_model.hpp"

using namespace zimt;

using ref::Owned;
using zimt::test::layer;

TEST_CASE("add_i16: exact when the sum fits, per-sample exponents joined") {
  // int16 + int8 (the identity shortcut's sum n2 + x).
  Owned<int16_t> a(Shape{2, 3}), y(Shape{2, 3});
  Owned<int8_t> b(Shape{2, 3});
  a.data = {1, 2, 3, 30000, -30000, 0};
  b.data = {1, -2, 4, 1, 1, 0};
  a.exp = {0, 0};
  b.exp = {1, -3};
  auto yv = y.view();
  add_i16(yv, a.view(), b.view());
  // Sample 0: 1+2, 2-4, 3+8 on exponent 0 -> exact.
  CHECK(y.data[0] == 3);
  CHECK(y.data[1] == -2);
  CHECK(y.data[2] == 11);
  CHECK(y.exp[0] == 0);
  // Sample 1: 30000 + 1/8 etc. on exponent -3: 240001 needs a shift of 3:
  // round-half-even(240001/8) = 30000, (-240000+1)/8 -> -30000, 0 stays 0.
  CHECK(y.exp[1] == 0);
  CHECK(y.data[3] == 30000);
  CHECK(y.data[4] == -30000);
  CHECK(y.data[5] == 0);

  // int16 + int16 (the projection's sum n2 + np, the input errors).
  Owned<int16_t> ea(Shape{1, 2}), eb(Shape{1, 2}), ey(Shape{1, 2});
  ea.data = {32767, -5};
  eb.data = {32767, 5};
  auto eyv = ey.view();
  add_i16(eyv, ea.view(), eb.view());
  CHECK(ey.data[0] == 32767);  // 65534 / 2 on exponent +1
  CHECK(ey.exp[0] == 1);
  CHECK(ey.data[1] == 0);
}

namespace {

// Whether the width pass made the layer's output int16.
bool int16_out(const ModelLayer& l) { return l.out_width == ActivationWidth::int16; }

// A model of an identity block (reading the int8 input) and a projection
// block, then global_avgpool and fc; the blocks' own numbers are what the
// float reference checks.
Model blocks_model(ActivationWidth acts) {
  ModelSpec spec;
  spec.name = "blocks";
  spec.input = {2, 6, 6};
  spec.classes = 3;
  spec.block_activations = acts;
  spec.layers = {layer(LayerKind::basic_block, 2), layer(LayerKind::basic_block, 4, 2),
                 layer(LayerKind::global_avgpool), layer(LayerKind::linear, 3)};
  Model model = build_model(spec);
  ref::dense_integer_start(model.params, 9);
  return model;
}

// dL/dlogits of the float reference (|.| <= 1/N = 2^-2) on a fixed exponent
// -16 (|mantissa| <= 16384), so both passes start from the same error signal
// and only the blocks' numerics differ.
Err float_dlogits(const ref::FloatPass& fp, const std::vector<int32_t>& labels, int64_t N, Arena& arena) {
  Err dlogits = make_tensor<int16_t>(arena, Shape{N, 3});
  const ref::Vec g = ref::softmax_ce_backward(fp.logits, labels, N, 3);
  for (int64_t n = 0; n < N; ++n) {
    dlogits.exp[n] = -16;
    for (int64_t k = 0; k < 3; ++k)
      dlogits.sample(n)[k] = static_cast<int16_t>(std::nearbyint(std::ldexp(g[static_cast<size_t>(n * 3 + k)], 16)));
  }
  return dlogits;
}

struct BlockRun {
  std::vector<ref::Vec> block_out;  // the two blocks' outputs
  std::vector<ref::GradAgreement> rows;
  std::vector<int64_t> g;
  std::vector<int32_t> g_exp;
};

BlockRun run_blocks(ActivationWidth a, const ref::Owned<int8_t>& x, const std::vector<int32_t>& labels,
                    const ref::FloatPass* fp) {
  Model model = blocks_model(a);
  Arena arena;
  ModelActs acts;
  model_forward(acts, model, x.view(), arena);
  BlockRun r;
  for (size_t i = 0; i < 2; ++i) r.block_out.push_back(ref::real(acts.out[i]));
  const int64_t N = x.shape[0];
  const ref::FloatPass own = fp ? *fp : ref::float_model_pass(model, ref::real(x.view()), labels, N);
  model_backward(model, acts, float_dlogits(own, labels, N, arena), arena);
  r.rows = ref::gradient_agreement(model.params, own);
  r.g = model.params.g;
  for (const auto& t : model.params.tensors) r.g_exp.push_back(t.g_exp);
  return r;
}

}  // namespace

TEST_CASE("basic block forward/backward match the float reference (identity and projection)") {
  const int64_t N = 4;
  std::mt19937_64 rng(4);
  const Owned<int8_t> x = ref::random_act(Shape{N, 2, 6, 6}, rng, -5, -5);
  const std::vector<int32_t> labels{0, 1, 2, 1};
  const Model model = blocks_model(ActivationWidth::int8);
  REQUIRE(model.layers[0].block.has_projection == false);
  REQUIRE(model.layers[1].block.has_projection == true);
  const ref::FloatPass fp = ref::float_model_pass(model, ref::real(x.view()), labels, N);
  // Forward: every block output within a few int8 steps of the float one
  // (each block rounds conv, LN and sum outputs: errors compound, so compare
  // by cosine rather than by steps).
  const BlockRun r = run_blocks(ActivationWidth::int8, x, labels, &fp);
  for (size_t i = 0; i < 2; ++i) CHECK(ref::cosine(r.block_out[i], fp.layer_out[i]) > 0.995);
  MESSAGE("int8 block activations\n" << ref::format_agreement(r.rows));
  for (const auto& row : r.rows) {
    CAPTURE(row.name);
    CHECK(row.cosine > 0.95);
    CHECK(row.signs.spurious == 0);
  }
}

// int16 activations (residual.hpp): the first block reads the int8 input
// and writes int16, the second reads int16. Every rounding left is an int16
// one (relative step <= 2^-15 of a sample's maximum) or the int8 output of
// global_avgpool after the blocks; a block has 6 of them on its main path,
// so the forward error is ~6·2^-15 ≈ 2e-4 of the scale: cosine >= 1 - 1e-6
// leaves a margin of (1e-6 / ((2e-4)²/2)) = 50 for the LayerNorms' gain.
// Backward: the int16 error signals as in the int8 blocks, on exact masks.
TEST_CASE("basic block with int16 activations matches the float reference; threads; zero weights") {
  const int64_t N = 4;
  std::mt19937_64 rng(4);
  const Owned<int8_t> x = ref::random_act(Shape{N, 2, 6, 6}, rng, -5, -5);
  const std::vector<int32_t> labels{0, 1, 2, 1};
  const Model model = blocks_model(ActivationWidth::int16);
  REQUIRE(int16_out(model.layers[0]));
  REQUIRE(int16_out(model.layers[1]));
  REQUIRE(!int16_out(model.layers[2]));
  const ref::FloatPass fp = ref::float_model_pass(model, ref::real(x.view()), labels, N);
  const BlockRun r = run_blocks(ActivationWidth::int16, x, labels, &fp);
  for (size_t i = 0; i < 2; ++i) {
    MESSAGE("block " << i << " forward cosine - 1: " << ref::cosine(r.block_out[i], fp.layer_out[i]) - 1);
    CHECK(ref::cosine(r.block_out[i], fp.layer_out[i]) >= 1 - 1e-6);
  }
  MESSAGE("int16 block activations\n" << ref::format_agreement(r.rows));
  for (const auto& row : r.rows) {
    CAPTURE(row.name);
    CHECK(row.cosine > 0.999);
    CHECK(row.signs.agree >= 0.99);
    CHECK(row.signs.spurious == 0);
  }

  // Bit-identical at 1, 2 and 4 threads.
  for (int threads : {1, 2, 4}) {
    CAPTURE(threads);
    tbb::global_control gc(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(threads));
    const BlockRun t = run_blocks(ActivationWidth::int16, x, labels, &fp);
    CHECK(t.block_out == r.block_out);
    CHECK(t.g == r.g);
    CHECK(t.g_exp == r.g_exp);
  }

  // All-zero weights (dead blocks, as the sparse start makes them): every
  // conv output is 0, LayerNorm gives exact zeros (its epsilon), the
  // identity block passes relu(x) on, nothing is undefined.
  Model dead = blocks_model(ActivationWidth::int16);
  for (auto& w : dead.params.w) w = 0;
  Arena arena;
  ModelActs acts;
  model_forward(acts, dead, x.view(), arena);
  CHECK(ref::real(acts.out[0]) == ref::relu_forward(ref::real(x.view())));
  for (auto v : ref::real(acts.out[1])) CHECK(v == 0);
  model_backward(dead, acts, float_dlogits(fp, labels, N, arena), arena);
  for (size_t t = 0; t < dead.params.tensors.size(); ++t) {
    if (dead.params.tensors[t].name == "fc1.bias") continue;  // Σ dlogits: the only gradient not through a weight
    CAPTURE(dead.params.tensors[t].name);
    const int64_t* g = dead.params.grads(t);
    for (size_t k = 0; k < dead.params.tensors[t].numel; ++k) CHECK(g[k] == 0);
  }
}
