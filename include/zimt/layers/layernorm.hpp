#pragma once
// LayerNorm without learned parameters, per sample over everything but the
// batch dimension (nn.LayerNorm([C,H,W], elementwise_affine=False) on
// (N,C,H,W), nn.LayerNorm(F) on (N,F)):
//     y = (x - mean) / sqrt(var + eps),   var the biased variance,
//     eps = 1e-5 as PyTorch.
//
// Inputs are int8 (Act) or int16 (a convolution's wide output inside a
// residual block, residual.hpp: the statistics and the signs of x - mean are
// then those of the 16-bit values, 2^8 times finer than an int8 input).
//
// Integer forward, per sample of M values x_i (int8/int16 mantissas, exponent e):
//   S1 = Σx, D = M·Σx² - S1² = M²·var_q (exact in 128 bits: M <= 2^20,
//        |x| <= 32767, D < 2^70)
//   D' = D + E, E = eps·M²·2^(-2e) in the same units, eps as the Q40
//        integer round(1e-5·2^40) = 10995116, D' kept as a 128-bit value
//        times a power of 4: exact when D = 0 (a constant sample, e.g. the
//        all-zero output of a dead layer under the sparse start: it divides
//        by sqrt(E), never by 0, and gives exact zeros) and whenever E is at
//        least 2^-126 of D; smaller E is rounded up, so D' > 0 always.
//   1/sqrt(D') = r·2^(t-62): D' normalised by an even shift into
//        [2^60, 2^62), its isqrt_u64 s in [2^30, 2^31) (30 exact bits),
//        r = round(2^62 / s).
//   ŷ_i = (M·x_i - S1) / sqrt(D') kept as Q20 integers (the product
//        (M·x_i - S1)·r exact in 128 bits, then rounded as round_keep_sign,
//        quant.hpp: round-half-even, a nonzero value never becomes 0).
// int8 output, exponent per sample: candidates are the max rule (the smallest
//   exponent that fits max|ŷ| into ±127, quant.hpp) and the two exponents
//   below it; the one with the least squared error Σ(ŷ - Q(ŷ))² (rounding
//   plus saturation at ±127, exact in integers; ties: the coarser) wins.
//   The output rounding is round_keep_sign (quant.hpp): an entry of ŷ below
//   half a step becomes ±1, never 0, so the ReLU that usually follows sees
//   the exact sign of M·x_i - S1.
//   For Gaussian-like samples this halves the step (max|ŷ| ≈ 4 saturates
//   almost nothing at 3.97). Then a cap (LayerNormSpec::max_step_exp): the
//   step is never coarser than 2^max_step_exp; larger entries saturate
//   (counted). Since Σŷ² = M·D/D' <= M, at most M / (127·2^max_step_exp)²
//   entries can saturate under the cap (Chebyshev): 1/253 of a sample for
//   the default -3. Rationale (docs/design.md, "Rounding"; measured in
//   tests/core/test_layernorm.cpp): one peaked sample (max ≈ 23, the bulk at
//   ≈ -0.09) under the max rule gets a step of 0.25: plain rounding turned
//   93 % of its entries to 0 (flushing the gradients of every weight they
//   feed), sign-keeping rounding makes them -0.25; with a step of 1/8 the
//   bulk is -0.125, the more accurate forward pass.
// int16 output (the residual block's second and projection branches, which
//   feed an addition rather than a GEMM): the max rule of requantize_i16 on
//   the Q20 values (step <= 2^10 / 2^15 = 2^-5 since |ŷ| <= sqrt(M); for
//   |ŷ| <= 4 the step is 2^-13), the sign kept; no cap, no saturation.
//
// Integer backward, statistics recomputed from `in` (exact, so
// nothing is cached between forward and backward):
//   dx = (dy - mean(dy) - ŷ·mean(dy·ŷ)) / σ,   σ = sqrt(var + eps)
//   With dy = d·2^f, A = Σd, G = Σ d_i·ŷq_i (ŷ in Q20):
//   dx_i = [(M·d_i - A)·2^40 - ŷq_i·G] · r · 2^(f - e - 40 + t - 62),
//   evaluated exactly in __int128 (|·| < 2^119), brought into int64 by one
//   round-half-even shift when needed and requantised per sample to int16
//   (quant.hpp). dout all zero gives exact zeros.
#include <cstdint>
#include <span>

#include "zimt/tensor.hpp"

namespace zimt {

struct LayerNormSpec {
  // Coarsest int8 output step as a power of two (see above). The default
  // -3: the bulk of a peaked sample (|ŷ| >= 1/16) stays nonzero, entries
  // beyond 127/8 ≈ 15.9 standard deviations saturate.
  int32_t max_step_exp = -3;
};

// Largest per-sample size (M) the integer bounds above are proven for.
constexpr int64_t kLayerNormMaxSample = int64_t{1} << 20;

// in, out: same shape (N,...), M = sample_numel() <= kLayerNormMaxSample.
// int8 output (from an int8 or int16 input): returns the number of entries
// that saturated at ±127. int16 output (int16 input only; `spec` unused):
// never saturates, returns 0.
int64_t layernorm_forward(const Activation& out, const Activation& in, const LayerNormSpec& spec = {});
// dout, din: shape of in.
void layernorm_backward(Err& din, const Err& dout, const Activation& in);

// The per-sample passes, one function per input width and direction. The
// backward's result is defined in 128 bits (above); it is computed in int64
// wherever a per-sample bound allows it, the same values exactly (the
// argument in src/core/layers/layernorm.cpp, backward_bounded), with the
// 128-bit evaluation for the rest. Implementations:
//   avx512: the int64 loops vectorised for AVX-512 F/BW/VL/DQ; used when
//           gemm_nt runs its avx512vnni kernels (ZIMT_KERNEL switches both)
//   scalar: the same source for the baseline instruction set
//   exact:  the scalar passes with the backward in 128 bits only and the
//           int16 forward through requantize_i16 (the definitions, for tests)
// All give the same bits (tests/core/test_layernorm_passes.cpp).
struct LayerNormPasses {
  const char* name;
  bool (*available)();
  // x (M) int16 -> out (M) int8; returns the saturations, out_exp the exponent.
  int64_t (*normalise_i16)(const int16_t* x, int64_t m, int32_t e, const LayerNormSpec& spec, int8_t* out,
                           int32_t& out_exp);
  // x (M) int16 -> out (M) int16; returns the output exponent.
  int32_t (*forward_i16)(const int16_t* x, int64_t m, int32_t e, int16_t* out);
  // x (M), d (M) -> dx (M); returns dx's exponent minus d's plus x's, plus 2·20 + 62.
  int32_t (*backward_i8)(const int8_t* x, const int16_t* d, int64_t m, int32_t e, int16_t* dx);
  int32_t (*backward_i16)(const int16_t* x, const int16_t* d, int64_t m, int32_t e, int16_t* dx);
};
std::span<const LayerNormPasses> layernorm_passes();

// The layer on the given passes (the two above use the chosen ones).
int64_t layernorm_forward(const Activation& out, const Activation& in, const LayerNormSpec& spec,
                          const LayerNormPasses& passes);
void layernorm_backward(Err& din, const Err& dout, const Activation& in, const LayerNormPasses& passes);

}  // namespace zimt
