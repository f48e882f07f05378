#pragma once
// Float (double) reference implementations of the integer layers, a central
// difference gradient checker to trust them, and helpers to build integer
// test tensors and read them back as real numbers. Tests only.
//
// Arrays are plain row-major std::vector<double> in the same layouts as the
// integer layers (NCHW; W (O,C,k,k) or (O,I)). Backward functions take dy
// and return dx, dw, db (resized by the callee).
#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <vector>

#include "zimt/layers/conv2d.hpp"
#include "zimt/layers/linear.hpp"
#include "zimt/layers/pool.hpp"
#include "zimt/param.hpp"
#include "zimt/tensor.hpp"

namespace zimt::ref {

using Vec = std::vector<double>;

// ---- integer tensors owned by a test, and their real values --------------

template <class T>
struct Owned {
  std::vector<T> data;
  std::vector<int32_t> exp;
  Shape shape;
  explicit Owned(Shape s) : data(static_cast<size_t>(s.numel())), exp(static_cast<size_t>(s[0])), shape(s) {}
  Tensor<T> view() { return Tensor<T>{data.data(), exp.data(), shape}; }
  const Tensor<T> view() const {
    return Tensor<T>{const_cast<T*>(data.data()), const_cast<int32_t*>(exp.data()), shape};
  }
};

// Mantissas uniform in [-max_abs, max_abs], exponents uniform in [exp_lo, exp_hi].
Owned<int8_t> random_act(Shape s, std::mt19937_64& rng, int exp_lo = -6, int exp_hi = 0, int max_abs = 127);
Owned<int16_t> random_err(Shape s, std::mt19937_64& rng, int exp_lo = -20, int exp_hi = -12, int max_abs = 32767);
// Weights of tensor t uniform in [-max_abs, max_abs] (bounded by the storage policy).
void random_weights(ParamSet& p, size_t t, std::mt19937_64& rng, int max_abs);

template <class T>
Vec real(const Tensor<T>& t) {
  Vec v(static_cast<size_t>(t.numel()));
  const int64_t m = t.sample_numel();
  for (int64_t n = 0; n < t.batch(); ++n)
    for (int64_t i = 0; i < m; ++i) v[static_cast<size_t>(n * m + i)] = std::ldexp(double(t.sample(n)[i]), t.exp[n]);
  return v;
}
inline Vec real(const Activation& a) {
  return visit(a, [](auto t) { return real(t); });
}
Vec real_weights(const ParamSet& p, size_t t);
Vec real_grads(const ParamSet& p, size_t t);

// The quantisation step of each element of t (2^exp of its sample).
template <class T>
Vec steps(const Tensor<T>& t) {
  Vec v(static_cast<size_t>(t.numel()));
  const int64_t m = t.sample_numel();
  for (int64_t n = 0; n < t.batch(); ++n)
    for (int64_t i = 0; i < m; ++i) v[static_cast<size_t>(n * m + i)] = std::ldexp(1.0, t.exp[n]);
  return v;
}

// max_i |a_i - b_i| / step_i  (the error in units of the quantisation step)
double max_error_in_steps(const Vec& a, const Vec& b, const Vec& step);
// Per element, the bound of one requantize_i16 (error signals, quant.hpp):
// max(step/2, step - |ref|) — half a step, or one step for a value kept at ±1
// instead of being flushed.
Vec error_signal_bounds(const Vec& ref, const Vec& step);
// max_i |a_i - b_i| / bound_i (<= 1 means within the bound)
double max_ratio(const Vec& a, const Vec& b, const Vec& bound);
// max_i |a_i - b_i| / max_i |b_i| (the absolute error when b is all zeros)
double max_relative_error(const Vec& a, const Vec& b);

// ---- reference layers ------------------------------------------------------

// x (N,I), w (O,I), b (O) or empty -> y (N,O)
Vec linear_forward(const Vec& x, const Vec& w, const Vec& b, int64_t N, int64_t I, int64_t O);
void linear_backward(Vec& dx, Vec& dw, Vec& db, const Vec& dy, const Vec& x, const Vec& w, int64_t N, int64_t I,
                     int64_t O);

// x (N,C,H,W), w (O,C,k,k), b (O) or empty -> y (N,O,OH,OW)
Vec conv2d_forward(const Vec& x, const Vec& w, const Vec& b, const Shape& in, const Conv2dSpec& s);
void conv2d_backward(Vec& dx, Vec& dw, Vec& db, const Vec& dy, const Vec& x, const Vec& w, const Shape& in,
                     const Conv2dSpec& s);

Vec relu_forward(const Vec& x);
Vec relu_backward(const Vec& dy, const Vec& x);  // gradient 0 at x <= 0

// Ties: first maximum in row-major window order (as the integer layer).
Vec maxpool_forward(const Vec& x, const Shape& in, const MaxPoolSpec& s);
Vec maxpool_backward(const Vec& dy, const Vec& x, const Shape& in, const MaxPoolSpec& s);

Vec global_avgpool_forward(const Vec& x, const Shape& in);
Vec global_avgpool_backward(const Vec& dy, const Shape& in);

// Mean cross-entropy over the batch; per-sample losses in `losses` if given.
double softmax_ce_forward(const Vec& z, const std::vector<int32_t>& labels, int64_t N, int64_t K,
                          Vec* losses = nullptr);
Vec softmax_ce_backward(const Vec& z, const std::vector<int32_t>& labels, int64_t N, int64_t K);

// ---- the oracle's own check --------------------------------------------------

// Central differences (f(x + h e_i) - f(x - h e_i)) / 2h for every i,
// compared with `analytic`: returns max_i |fd_i - analytic_i| / (|analytic_i| + scale)
// where scale = max |analytic| (relative to the gradient's size).
double gradient_check(const std::function<double(const Vec&)>& f, Vec x, const Vec& analytic, double h);

// Comparisons of two gradients (integer engine vs float).
double cosine(const Vec& a, const Vec& b);
struct SignStats {
  double agree = 0;      // fraction of ref-nonzero entries with equal sign
  double flushed = 0;    // fraction of ref-nonzero entries where a == 0
  int64_t spurious = 0;  // entries with ref == 0 and a != 0
};
SignStats sign_stats(const Vec& a, const Vec& ref);

}  // namespace zimt::ref
