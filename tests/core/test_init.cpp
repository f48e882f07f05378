// Weight initialisations (init.hpp; docs/design.md, Update rules) on the MNIST CNN's shapes.
#include "zimt/optim/init.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <numeric>

using namespace zimt;
using namespace zimt::optim;

namespace {

ParamSet cnn() {
  ParamSet p;
  p.add("conv1.weight", {32, 1, 3, 3}, ParamKind::weight);
  p.add("conv1.bias", {32}, ParamKind::bias);
  p.add("conv2.weight", {64, 32, 3, 3}, ParamKind::weight);
  p.add("conv2.bias", {64}, ParamKind::bias);
  p.add("fc1.weight", {128, 3136}, ParamKind::weight);
  p.add("fc1.bias", {128}, ParamKind::bias);
  p.add("fc2.weight", {10, 128}, ParamKind::weight);
  p.add("fc2.bias", {10}, ParamKind::bias);
  p.add("bn.weight", {64}, ParamKind::norm_scale);  // a BatchNorm gamma, as in the ResNet
  return p;
}

int64_t abs_sum(const ParamSet& p, size_t t) {
  int64_t s = 0;
  for (size_t i = 0; i < p.tensors[t].numel; ++i) s += std::abs(p.weights(t)[i]);
  return s;
}
int64_t nonzero(const ParamSet& p, size_t t) {
  int64_t s = 0;
  for (size_t i = 0; i < p.tensors[t].numel; ++i) s += p.weights(t)[i] != 0;
  return s;
}

}  // namespace

TEST_CASE("the authors' trial count is round(numel^(1/ndim))") {
  CHECK(authors_init_trials(288, 4) == 4);       // 4.12
  CHECK(authors_init_trials(18432, 4) == 12);    // 11.65
  CHECK(authors_init_trials(401408, 2) == 634);  // 633.6
  CHECK(authors_init_trials(1280, 2) == 36);     // 35.8
  CHECK(authors_init_trials(64, 1) == 64);
  CHECK(authors_init_trials(100, 2) == 10);
  CHECK(authors_init_trials(110, 2) == 10);  // 10.49
  CHECK(authors_init_trials(111, 2) == 11);  // 10.54
}

TEST_CASE("authors init: sparse +-k weights, n trials per tensor, biases 0, gamma from ones") {
  ParamSet p = cnn();
  CHECK(p.size() == 421642 + 64);
  initialize(p, InitKind::authors, 1);
  const int64_t trials[] = {4, 0, 12, 0, 634, 0, 36, 0, 64};
  int64_t total_nonzero = 0;
  for (size_t t = 0; t < p.tensors.size(); ++t) {
    CHECK(p.tensors[t].w_exp == 0);
    // Every trial lands on an entry with nonzero sign (v = 0 has probability
    // ~ numel 2^-32 sqrt(fan_in)), so the units add up exactly.
    CHECK(abs_sum(p, t) == trials[t]);
    if (t < 8) total_nonzero += nonzero(p, t);
  }
  // 686 trials over 421,642 weights: a few collisions at most (0.16 % nonzero).
  CHECK(total_nonzero <= 686);
  CHECK(total_nonzero >= 670);
  for (size_t i = 0; i < 64; ++i) CHECK(p.weights(8)[i] >= 0);  // gamma: signs of ones
  ParamSet q = cnn();
  initialize(q, InitKind::authors, 1);
  CHECK(q.w == p.w);
  initialize(q, InitKind::authors, 2);
  CHECK(q.w != p.w);
}

TEST_CASE("dense init: numel trials per tensor, about 1 - 1/e of the weights nonzero") {
  ParamSet p = cnn();
  initialize(p, InitKind::dense, 3);
  const size_t fc1 = 4;
  CHECK(abs_sum(p, fc1) == 401408);
  CHECK(abs_sum(p, 1) == 0);
  // p_i in [1 / (N (1 + b)), (1 + b) / N] with b = 1/56, so the expected
  // nonzero fraction lies in [1 - e^(-1/(1+b)), 1 - e^(-(1+b))]; the count's
  // sd is below sqrt(N e^-1 (1 - e^-1)) ~ 305; allow 5 sd.
  const double N = 401408, b = 1.0 / 56;
  const auto nz = static_cast<double>(nonzero(p, fc1));
  CHECK(nz > N * (1 - std::exp(-1 / (1 + b))) - 5 * 305);
  CHECK(nz < N * (1 - std::exp(-(1 + b))) + 5 * 305);
}

TEST_CASE("float init: int8 with a per-tensor power-of-two scale, PyTorch's bounds") {
  ParamSet p = cnn();
  initialize(p, InitKind::float_quantized, 4);
  // conv1: b = 1/3 -> w_exp = -8 (127/256 >= 1/3 > 127/512), |w| <= round(256/3) = 85
  CHECK(p.tensors[0].w_exp == -8);
  CHECK(p.tensors[1].w_exp == -8);   // its bias shares the fan-in
  CHECK(p.tensors[4].w_exp == -12);  // fc1: b = 1/56
  CHECK(p.tensors[8].w_exp == -6);
  for (size_t i = 0; i < 64; ++i) CHECK(p.weights(8)[i] == 64);
  int64_t max_conv1 = 0;
  double mean = 0, mean_abs = 0;
  for (size_t i = 0; i < 288; ++i) {
    max_conv1 = std::max<int64_t>(max_conv1, std::abs(p.weights(0)[i]));
  }
  CHECK(max_conv1 <= 85);
  CHECK(max_conv1 >= 80);  // 288 uniform draws: P(max < 80/85) = (80/85)^288 ~ 3e-8
  // fc1: U(-73.1, 73.1) after rounding: mean 0 (sd 42.2 / sqrt(N)), E|w| = 36.6.
  const size_t n = p.tensors[4].numel;
  for (size_t i = 0; i < n; ++i) {
    mean += p.weights(4)[i];
    mean_abs += std::abs(p.weights(4)[i]);
  }
  mean /= static_cast<double>(n);
  mean_abs /= static_cast<double>(n);
  CHECK(std::fabs(mean) < 5 * 42.2 / std::sqrt(double(n)));
  CHECK(std::fabs(mean_abs - 4096.0 / 56 / 2) < 0.5);  // rounding moves E|w| by < 1/4, sampling by < 0.2
}
