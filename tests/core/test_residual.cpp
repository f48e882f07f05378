// The residual basic block: identity and projection shortcuts against the
// float reference (through a whole small model, so the block is checked in
// context), and the per-sample additions.
#include "layer_spec.hpp"
#include "zimt/layers/residual.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <random>

#include "float_model.hpp"

using namespace zimt;

using zimt::test::layer;
using ref::Owned;

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

TEST_CASE("basic block forward/backward match the float reference (identity and projection)") {
  // A model of stem + identity block + projection block; the block's own
  // numbers are what the float reference checks.
  ModelSpec spec;
  spec.name = "blocks";
  spec.input = {2, 6, 6};
  spec.classes = 3;
  spec.layers = {layer(LayerKind::basic_block, 2),
                 layer(LayerKind::basic_block, 4, 2),
                 layer(LayerKind::global_avgpool),
                 layer(LayerKind::linear, 3)};
  Model model = build_model(spec);
  REQUIRE(model.layers[0].block.has_projection == false);
  REQUIRE(model.layers[1].block.has_projection == true);
  ref::dense_integer_start(model.params, 9);
  const int64_t N = 4;
  std::mt19937_64 rng(4);
  Owned<int8_t> x = ref::random_act(model_input_shape(model, N), rng, -5, -5);
  Arena arena;
  ModelActs acts;
  model_forward(acts, model, x.view(), arena);
  std::vector<int32_t> labels{0, 1, 2, 1};
  const ref::FloatPass fp = ref::float_model_pass(model, ref::real(x.view()), labels, N);
  // Forward: every block output within a few int8 steps of the float one
  // (each block rounds conv, LN and sum outputs: errors compound, so compare
  // by cosine rather than by steps).
  for (size_t i = 0; i < 2; ++i) CHECK(ref::cosine(ref::real(acts.out[i]), fp.layer_out[i]) > 0.995);
  // Backward from the float reference's own dL/dlogits (|.| <= 1/N = 2^-2),
  // on a fixed exponent -16 (|mantissa| <= 16384), so both passes start from
  // the same error signal and only the blocks' numerics differ.
  Err dlogits = make_tensor<int16_t>(arena, acts.out.back().shape);
  const ref::Vec g = ref::softmax_ce_backward(fp.logits, labels, N, 3);
  for (int64_t n = 0; n < N; ++n) {
    dlogits.exp[n] = -16;
    for (int64_t k = 0; k < 3; ++k)
      dlogits.sample(n)[k] = static_cast<int16_t>(std::nearbyint(std::ldexp(g[static_cast<size_t>(n * 3 + k)], 16)));
  }
  model_backward(model, acts, dlogits, arena);
  const auto rows = ref::gradient_agreement(model.params, fp);
  MESSAGE(ref::format_agreement(rows));
  for (const auto& r : rows) {
    CAPTURE(r.name);
    CHECK(r.cosine > 0.95);
    CHECK(r.signs.spurious == 0);
  }
}
