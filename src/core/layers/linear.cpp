#include "zimt/layers/linear.hpp"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <cassert>
#include <vector>

#include "bias.hpp"
#include "zimt/kernels/gemm.hpp"
#include "zimt/kernels/narrow.hpp"
#include "zimt/quant.hpp"

namespace zimt {

Shape linear_out_shape(const Shape& in, const LinearSpec& spec) {
  assert(in.rank == 2 && in[1] == spec.in_features);
  return Shape{in[0], spec.out_features};
}

namespace {

// Samples per GEMM (the grain of the loops over the batch): enough rows for
// gemm_nt's packed micro-kernels (a single row runs dot products at a
// fraction of their rate), while a batch of 64 still gives 4 tasks.
constexpr int64_t kGemmRows = 16;

// in (N,I), W (O,I), b (O) -> out (N,O) of element type T (int8 or int16)
template <class T, class X>
void forward(Tensor<T>& out, const Tensor<X>& in, const ParamSet& params, const LinearSpec& spec) {
  const int64_t batch = in.batch(), I = spec.in_features, O = spec.out_features;
  assert(in.shape == (Shape{batch, I}) && out.shape == (Shape{batch, O}));
  const int16_t* w = params.weights(spec.weight);
  const int32_t w_exp = params.tensors[spec.weight].w_exp;
  // Under the int8 storage policy the GEMM reads the weights as int8:
  // int8 inputs then run gemm_nt's int8 x int8 kernel (vpdpbusd).
  std::vector<int8_t> w8;
  if (params.storage == WeightStorage::int8) {
    w8.resize(static_cast<size_t>(O * I));
    kernels::narrow_to_int8(w8.data(), w, O * I);
  }
  // One GEMM per chunk of samples: acc (rows, O) = in[rows] (rows, I) · Wᵀ.
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, batch, kGemmRows), [&](const tbb::blocked_range<int64_t>& r) {
    const int64_t rows = r.end() - r.begin();
    std::vector<int64_t> acc(static_cast<size_t>(rows * O));
    if (w8.empty())
      kernels::gemm_nt(acc.data(), O, in.sample(r.begin()), I, w, I, rows, O, I);
    else
      kernels::gemm_nt(acc.data(), O, in.sample(r.begin()), I, w8.data(), I, rows, O, I);
    for (int64_t n = r.begin(); n < r.end(); ++n) {
      int64_t* a = acc.data() + (n - r.begin()) * O;
      int32_t e = in.exp[n] + w_exp;
      if (spec.has_bias) e = detail::join_bias(a, O, 1, e, params.weights(spec.bias), params.tensors[spec.bias].w_exp);
      out.exp[n] = requantize(a, O, e, out.sample(n));
    }
  });
}

// dout (N,O), in (N,I) -> din (N,I), dW (O,I), db (O)
template <class X>
void backward(Err* din, const Err& dout, const Tensor<X>& in, ParamSet& params, const LinearSpec& spec,
              const BatchReducer& reducer) {
  const int64_t batch = in.batch(), I = spec.in_features, O = spec.out_features;
  assert(dout.shape == (Shape{batch, O}) && in.shape == (Shape{batch, I}));
  const int16_t* w = params.weights(spec.weight);
  const int32_t w_exp = params.tensors[spec.weight].w_exp;

  if (din != nullptr) {
    assert(din->shape == in.shape);
    std::vector<int16_t> wt(static_cast<size_t>(I * O));  // Wᵀ (I,O)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t i = 0; i < I; ++i) wt[static_cast<size_t>(i * O + o)] = w[o * I + i];
    // acc (rows, I) = dout[rows] (rows, O) · W (O, I), as A·(Wᵀ)ᵀ.
    tbb::parallel_for(tbb::blocked_range<int64_t>(0, batch, kGemmRows), [&](const tbb::blocked_range<int64_t>& r) {
      const int64_t rows = r.end() - r.begin();
      std::vector<int64_t> acc(static_cast<size_t>(rows * I));
      kernels::gemm_nt(acc.data(), I, dout.sample(r.begin()), O, wt.data(), O, rows, I, O);
      for (int64_t n = r.begin(); n < r.end(); ++n)
        din->exp[n] = requantize_i16(acc.data() + (n - r.begin()) * I, I, dout.exp[n] + w_exp, din->sample(n));
    });
  }

  // dW[o,i] = Σ_n dout[n,o]·in[n,i]·2^(e_dout[n] + e_in[n]). Tight term bound:
  // |dout| <= 32767 < 2^15 and |in| <= 127 < 2^7 (int8) or 32767 < 2^15
  // (int16), so |dout·in| < 2^22 resp. 2^30 (docs/design.md, "Bounds").
  constexpr int term_bits = product_sum_bits(magnitude_bits<int16_t>(), magnitude_bits<X>(), 1);
  std::vector<int32_t> sample_exp(static_cast<size_t>(batch));
  for (int64_t n = 0; n < batch; ++n) sample_exp[static_cast<size_t>(n)] = dout.exp[n] + in.exp[n];
  const BatchAlignment wa = align_batch(sample_exp.data(), batch, term_bits, reducer);
  int64_t* gw = params.grads(spec.weight);
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, O), [&](const tbb::blocked_range<int64_t>& r) {
    for (int64_t o = r.begin(); o < r.end(); ++o) {
      int64_t* row = gw + o * I;
      for (int64_t i = 0; i < I; ++i) row[i] = 0;
      for (int64_t n = 0; n < batch; ++n) {
        const int64_t d = dout.sample(n)[o];
        if (d == 0) continue;
        const X* x = in.sample(n);
        const int32_t s = wa.shift[static_cast<size_t>(n)];
        if (s >= 0) {
          const int64_t ds = apply_shift(d, s);
          for (int64_t i = 0; i < I; ++i) row[i] += ds * x[i];
        } else {
          for (int64_t i = 0; i < I; ++i) row[i] += apply_shift(d * x[i], s);
        }
      }
    }
  });
  params.tensors[spec.weight].g_exp = wa.exp;

  if (spec.has_bias) {
    // db[o] = Σ_n dout[n,o]·2^e_dout[n]; |dout| < 2^16.
    const BatchAlignment ba = align_batch(dout.exp, batch, 16, reducer);
    int64_t* gb = params.grads(spec.bias);
    for (int64_t o = 0; o < O; ++o) {
      int64_t s = 0;
      for (int64_t n = 0; n < batch; ++n) s += apply_shift(dout.sample(n)[o], ba.shift[static_cast<size_t>(n)]);
      gb[o] = s;
    }
    params.tensors[spec.bias].g_exp = ba.exp;
  }
}

}  // namespace

void linear_forward(const Activation& out, const Activation& in, const ParamSet& params, const LinearSpec& spec) {
  visit(out, in, [&](auto y, auto x) { forward(y, x, params, spec); });
}

void linear_backward(Err* din, const Err& dout, const Activation& in, ParamSet& params, const LinearSpec& spec,
                     const BatchReducer& reducer) {
  visit(in, [&](auto x) { backward(din, dout, x, params, spec, reducer); });
}

}  // namespace zimt
