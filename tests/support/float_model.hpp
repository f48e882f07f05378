#pragma once
// Float (double) reference of LayerNorm, the residual basic block and whole
// models, built from the layer references in float_ref.hpp, plus the
// deterministic dense integer start of the whole-model checks. Tests only.
#include <cstdint>
#include <string>
#include <vector>

#include "float_ref.hpp"
#include "zimt/model.hpp"

namespace zimt::ref {

// y = (x - mean) / sqrt(var + eps) per sample of M values (N samples).
Vec layernorm_forward(const Vec& x, int64_t N, int64_t M, double eps = 1e-5);
// dx = (dy - mean(dy) - y·mean(dy·y)) / sqrt(var + eps).
Vec layernorm_backward(const Vec& dy, const Vec& x, int64_t N, int64_t M, double eps = 1e-5);

// The whole model in double on the real values of its integer weights.
struct FloatPass {
  Vec logits;                  // (N, classes)
  double loss = 0;             // batch mean cross-entropy
  std::vector<Vec> grads;      // grads[t]: dL/dw of params.tensors[t]
  std::vector<Vec> layer_out;  // output of every layer (N, ...)
};
FloatPass float_model_pass(const Model& model, const Vec& input, const std::vector<int32_t>& labels, int64_t N);

// Dense integer start: every weight (and bias) an independent
// Binomial(4, 1/4) count (≈ Poisson(1), 32 % zeros) with a random sign,
// drawn from Philox (Stream::test_data) keyed by seed and position.
void dense_integer_start(ParamSet& params, uint64_t seed);

// Per weight tensor: integer gradient vs float gradient.
struct GradAgreement {
  std::string name;
  double cosine = 0;
  SignStats signs;
  int64_t ref_nonzero = 0;
  size_t numel = 0;
};
std::vector<GradAgreement> gradient_agreement(const ParamSet& params, const FloatPass& ref);
std::string format_agreement(const std::vector<GradAgreement>& rows);

}  // namespace zimt::ref
