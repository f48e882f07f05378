#pragma once
// Weight initialisation (docs/design.md, Update rules), integer only, a pure function of
// (tensor shapes, kind, seed).
//
// Standard random init (PyTorch's default for conv/linear): v ~ U(-b, b) with
// b = 1/sqrt(fan_in), fan_in = product of all dims but the first ({O,I,KH,KW}:
// I KH KW; {O,I}: I; 1-D: 1). Generated in Q32.32: b_q = floor(sqrt((2^64-1) /
// fan_in)) (within one unit of 2^32/sqrt(fan_in)), v_q uniform on the integer
// grid [-b_q, b_q] from WordStream(seed, Stream::init, 2 t, i) for element i of
// tensor t (Lemire, unbiased).
//
//   authors : each weight tensor's v goes through the authors' rule once
//             (zim.hpp, c = 1, i.e. p_i = (|v_i| + 1) / (||v||_1 + numel)) with
//             n = round(numel^(1/ndim)) trials keyed (seed, Stream::init,
//             2 t + 1, trial); w = +X ⊙ sign(v) (sign convention: the weight
//             moves *towards* its float initial value's sign). norm_scale
//             tensors (BatchNorm gamma) start from v = 1 and go through the
//             same rule (64 entries of shape {64}: 64 trials). Biases start at
//             0. w_exp = 0. Result: mostly zeros, a few +-1 (0.16 % nonzero
//             for the MNIST CNN).
//   dense   : the same with n = numel trials per tensor.
//   float   : v quantised to int8 with a per-tensor power-of-two scale: the
//             smallest w_exp with b 2^-w_exp <= 127, w = round-half-even(v 2^-w_exp);
//             biases "<name>.bias" use the fan_in of "<name>.weight"
//             (PyTorch's bias init), or 0 if there is none; norm_scale
//             tensors start at 1.0 (64 with w_exp = -6). For integer SGD.
// Weights are saturated to the storage limit (never reached in practice).
#include "zimt/param.hpp"

#include <cstdint>

namespace zimt::optim {

enum class InitKind : uint8_t { authors, dense, float_quantized };

// Overwrites every weight and w_exp of p; gradients are left alone.
void initialize(ParamSet& p, InitKind kind, uint64_t seed);

// round(numel^(1/ndim)) for ndim >= 1 (ndim = 0 gives numel): the authors' trial count.
int64_t authors_init_trials(int64_t numel, size_t ndim);

}  // namespace zimt::optim
