#include "zimt/layers/conv2d.hpp"

#include <tbb/blocked_range.h>
#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cassert>
#include <vector>

#include "bias.hpp"
#include "zimt/kernels/gemm.hpp"
#include "zimt/kernels/narrow.hpp"
#include "zimt/quant.hpp"

namespace zimt {

namespace {

struct Geometry {
  int64_t C, H, W, O, k, stride, pad, OH, OW;
  int64_t K() const { return C * k * k; }  // patch length
  int64_t P() const { return OH * OW; }    // output positions
};

Geometry geometry(const Shape& in, const Conv2dSpec& s) {
  assert(in.rank == 4 && in[1] == s.in_channels);
  const int64_t OH = (in[2] + 2 * s.padding - s.kernel) / s.stride + 1;
  const int64_t OW = (in[3] + 2 * s.padding - s.kernel) / s.stride + 1;
  return {in[1], in[2], in[3], s.out_channels, s.kernel, s.stride, s.padding, OH, OW};
}

// Calls f(p, kidx, ih, iw) for every (output position, patch index) whose
// input pixel lies inside the image; padded pixels are skipped (they are 0).
template <class F>
void for_each_tap(const Geometry& g, F&& f) {
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t kh = 0; kh < g.k; ++kh)
      for (int64_t kw = 0; kw < g.k; ++kw) {
        const int64_t kidx = (c * g.k + kh) * g.k + kw;
        for (int64_t oh = 0; oh < g.OH; ++oh) {
          const int64_t ih = oh * g.stride - g.pad + kh;
          if (ih < 0 || ih >= g.H) continue;
          for (int64_t ow = 0; ow < g.OW; ++ow) {
            const int64_t iw = ow * g.stride - g.pad + kw;
            if (iw < 0 || iw >= g.W) continue;
            f(oh * g.OW + ow, kidx, (c * g.H + ih) * g.W + iw);
          }
        }
      }
}

// Samples of a batch grouped for the weight gradient: each run's samples
// share one shift >= 0 (or it is one sample with a negative shift), at most
// max(kRunSamples, kRunColumns / P) of them and at most kRunElements patch
// values (K·L). Each run costs one pass over the (O,K) partial, which for
// few positions P costs more than the GEMM itself (P = 1: O·K·L MACs against
// O·K int64 reads and writes), so runs grow as P shrinks; where P is large
// the 8-sample cap leaves several runs to share among threads.
struct SampleRun {
  int32_t shift = 0;
  std::vector<int64_t> samples;  // increasing
};

std::vector<SampleRun> shift_runs(const std::vector<int32_t>& shift, int64_t P, int64_t K) {
  constexpr int64_t kRunSamples = 8, kRunColumns = 256, kRunElements = int64_t{1} << 22;
  const int64_t most = std::max(kRunSamples, kRunColumns / std::max<int64_t>(P, 1));
  const size_t cap = static_cast<size_t>(std::clamp<int64_t>(kRunElements / std::max<int64_t>(P * K, 1), 1, most));
  std::vector<int64_t> order(shift.size());
  for (size_t n = 0; n < order.size(); ++n) order[n] = static_cast<int64_t>(n);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return shift[static_cast<size_t>(a)] < shift[static_cast<size_t>(b)]; });
  std::vector<SampleRun> runs;
  for (const int64_t n : order) {
    const int32_t s = shift[static_cast<size_t>(n)];
    if (runs.empty() || runs.back().shift != s || s < 0 || runs.back().samples.size() == cap) runs.push_back({s, {}});
    runs.back().samples.push_back(n);
  }
  return runs;
}

// Samples per GEMM in the forward and input-error passes: a layer with few
// output positions P (ResNet-18's deep layers: 1..16) contracts a group of
// samples in one GEMM over their concatenated positions instead of one thin
// GEMM each; every output element is the same exact dot product either way.
int64_t group_samples(int64_t P, int64_t K) {
  constexpr int64_t kTargetColumns = 128, kMaxSamples = 16, kMaxElements = int64_t{1} << 22;
  const int64_t g = std::clamp<int64_t>((kTargetColumns + P - 1) / P, 1, kMaxSamples);
  return std::clamp<int64_t>(kMaxElements / std::max<int64_t>(P * K, 1), 1, g);
}

// in (N,C,H,W), W (O,C,k,k), b (O) -> out (N,O,OH,OW); T (output) and X
// (input): int8_t or int16_t.
template <class T, class X>
void forward(Tensor<T>& out, const Tensor<X>& in, const ParamSet& params, const Conv2dSpec& spec) {
  const Geometry g = geometry(in.shape, spec);
  assert(out.shape == conv2d_out_shape(in.shape, spec));
  const int64_t K = g.K(), P = g.P(), G = group_samples(P, K), batch = in.batch();
  const int16_t* w = params.weights(spec.weight);
  const int32_t w_exp = params.tensors[spec.weight].w_exp;
  // Under the int8 storage policy the GEMM reads the weights as int8:
  // int8 inputs then run gemm_nt's int8 x int8 kernel (vpdpbusd).
  std::vector<int8_t> w8;
  if (params.storage == WeightStorage::int8) {
    w8.resize(static_cast<size_t>(g.O * K));
    kernels::narrow_to_int8(w8.data(), w, g.O * K);
  }
  const int64_t groups = (batch + G - 1) / G;
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, groups), [&](const tbb::blocked_range<int64_t>& r) {
    std::vector<X> col_t(static_cast<size_t>(G * P * K));        // (L,K): one patch per row, L = samples·P
    std::vector<int64_t> acc(static_cast<size_t>(g.O * G * P));  // (O,L)
    std::vector<int64_t> sample_acc(static_cast<size_t>(G > 1 ? g.O * P : 0));  // (O,P): one sample's columns
    for (int64_t grp = r.begin(); grp < r.end(); ++grp) {
      const int64_t n0 = grp * G, count = std::min(G, batch - n0), L = count * P;
      std::fill(col_t.begin(), col_t.begin() + L * K, X{0});
      for (int64_t j = 0; j < count; ++j) {
        const X* x = in.sample(n0 + j);
        X* rows = col_t.data() + j * P * K;
        for_each_tap(g, [&](int64_t p, int64_t kidx, int64_t xi) { rows[p * K + kidx] = x[xi]; });
      }
      if (w8.empty())
        kernels::gemm_nt(acc.data(), L, w, K, col_t.data(), K, g.O, L, K);
      else
        kernels::gemm_nt(acc.data(), L, w8.data(), K, col_t.data(), K, g.O, L, K);
      for (int64_t j = 0; j < count; ++j) {
        const int64_t n = n0 + j;
        int64_t* a = acc.data();
        if (count > 1) {
          for (int64_t o = 0; o < g.O; ++o) std::copy_n(acc.data() + o * L + j * P, P, sample_acc.data() + o * P);
          a = sample_acc.data();
        }
        int32_t e = in.exp[n] + w_exp;
        if (spec.has_bias)
          e = detail::join_bias(a, g.O, P, e, params.weights(spec.bias), params.tensors[spec.bias].w_exp);
        out.exp[n] = requantize(a, g.O * P, e, out.sample(n));
      }
    }
  });
}

// dout (N,O,OH,OW), in (N,C,H,W) -> din (N,C,H,W), dW (O,C,k,k), db (O);
// X (input): int8_t or int16_t.
template <class X>
void backward(Err* din, const Err& dout, const Tensor<X>& in, ParamSet& params, const Conv2dSpec& spec,
              const BatchReducer& reducer) {
  const Geometry g = geometry(in.shape, spec);
  assert(dout.shape == conv2d_out_shape(in.shape, spec));
  const int64_t batch = in.batch(), K = g.K(), P = g.P(), O = g.O;
  const int16_t* w = params.weights(spec.weight);
  const int32_t w_exp = params.tensors[spec.weight].w_exp;

  if (din != nullptr) {
    assert(din->shape == in.shape);
    std::vector<int16_t> wt(static_cast<size_t>(K * O));  // Wᵀ (K,O)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t kk = 0; kk < K; ++kk) wt[static_cast<size_t>(kk * O + o)] = w[o * K + kk];
    const int64_t G = group_samples(P, K), groups = (batch + G - 1) / G;
    tbb::parallel_for(tbb::blocked_range<int64_t>(0, groups), [&](const tbb::blocked_range<int64_t>& r) {
      std::vector<int16_t> dout_t(static_cast<size_t>(G * P * O));  // (L,O), L = samples·P
      std::vector<int64_t> dcol_t(static_cast<size_t>(G * P * K));  // (L,K)
      std::vector<int64_t> acc(static_cast<size_t>(in.sample_numel()));
      for (int64_t grp = r.begin(); grp < r.end(); ++grp) {
        const int64_t n0 = grp * G, count = std::min(G, batch - n0), L = count * P;
        for (int64_t j = 0; j < count; ++j) {
          const int16_t* dy = dout.sample(n0 + j);
          int16_t* rows = dout_t.data() + j * P * O;
          for (int64_t o = 0; o < O; ++o)
            for (int64_t p = 0; p < P; ++p) rows[p * O + o] = dy[o * P + p];
        }
        kernels::gemm_nt(dcol_t.data(), K, dout_t.data(), O, wt.data(), O, L, K, O);
        for (int64_t j = 0; j < count; ++j) {
          const int64_t n = n0 + j;
          const int64_t* rows = dcol_t.data() + j * P * K;
          std::fill(acc.begin(), acc.end(), int64_t{0});
          for_each_tap(
              g, [&](int64_t p, int64_t kidx, int64_t xi) { acc[static_cast<size_t>(xi)] += rows[p * K + kidx]; });
          din->exp[n] = requantize_i16(acc.data(), in.sample_numel(), dout.exp[n] + w_exp, din->sample(n));
        }
      }
    });
  }

  // dW[o,kk] = Σ_n 2^(e_dout[n] + e_in[n]) Σ_p dout[n,o,p]·col[n,kk,p];
  // |dout·x| < 2^15·2^x_bits (x_bits 8 for int8, 16 for int16 inputs), so a
  // sample's partial sum is < 2^(15 + x_bits + ceil_log2 P). x_bits is one
  // bit above the tight magnitude_bits<X>() (|x| <= 127 < 2^7): this bound
  // sets align_batch's shift limit, so tightening it would change how widely
  // spread batches round (docs/design.md, "Bounds").
  // Integer sums are exact, so the per-thread partials add up to the same
  // result in any order: bit-identical for any thread count.
  std::vector<int32_t> sample_exp(static_cast<size_t>(batch));
  for (int64_t n = 0; n < batch; ++n) sample_exp[static_cast<size_t>(n)] = dout.exp[n] + in.exp[n];
  constexpr int x_bits = magnitude_bits<X>() + 1;
  const int p_bits = ceil_log2(static_cast<uint64_t>(P));
  const BatchAlignment wa = align_batch(
      sample_exp.data(), batch, product_sum_bits(magnitude_bits<int16_t>(), x_bits, static_cast<uint64_t>(P)), reducer);
  // Samples that join the batch sum with the same left shift are contracted
  // in ONE GEMM over their concatenated positions (a run, L = len·P columns):
  // 2^s·Σ_n Σ_p = Σ_n 2^s·Σ_p exactly, so the result is the per-sample one,
  // while the (O,K) partial is written and shifted once per run instead of
  // once per sample (ResNet-18's deep layers have P = 1..16 positions
  // against O·K up to 2.4 M weights). A negative shift rounds, so such a
  // sample stays a run of its own.
  const std::vector<SampleRun> runs = shift_runs(wa.shift, P, K);
  tbb::enumerable_thread_specific<std::vector<int64_t>> local_gw(static_cast<size_t>(O * K), int64_t{0});
  tbb::parallel_for(tbb::blocked_range<size_t>(0, runs.size()), [&](const tbb::blocked_range<size_t>& r) {
    std::vector<int64_t>& gw = local_gw.local();
    std::vector<X> col;                                        // (K,L): the run's patches, one column per position
    std::vector<int16_t> dy;                                   // (O,L): the run's output errors
    std::vector<int64_t> partial(static_cast<size_t>(O * K));  // (O,K)
    for (size_t i = r.begin(); i < r.end(); ++i) {
      const SampleRun& run = runs[i];
      const int64_t L = static_cast<int64_t>(run.samples.size()) * P;
      col.assign(static_cast<size_t>(K * L), X{0});
      dy.resize(static_cast<size_t>(O * L));
      for (size_t j = 0; j < run.samples.size(); ++j) {
        const int64_t n = run.samples[j], offset = static_cast<int64_t>(j) * P;
        const X* x = in.sample(n);
        for_each_tap(
            g, [&](int64_t p, int64_t kidx, int64_t xi) { col[static_cast<size_t>(kidx * L + offset + p)] = x[xi]; });
        const int16_t* d = dout.sample(n);
        for (int64_t o = 0; o < O; ++o) std::copy(d + o * P, d + (o + 1) * P, dy.begin() + o * L + offset);
      }
      kernels::gemm_nt(partial.data(), K, dy.data(), L, col.data(), L, O, K, L);
      for (size_t e = 0; e < partial.size(); ++e) gw[e] += apply_shift(partial[e], run.shift);
    }
  });
  int64_t* gw = params.grads(spec.weight);
  for (int64_t i = 0; i < O * K; ++i) gw[i] = 0;
  local_gw.combine_each([&](const std::vector<int64_t>& part) {
    for (int64_t i = 0; i < O * K; ++i) gw[i] += part[static_cast<size_t>(i)];
  });
  params.tensors[spec.weight].g_exp = wa.exp;

  if (spec.has_bias) {
    // db[o] = Σ_n 2^e_dout[n] Σ_p dout[n,o,p]; a sample's sum is < 2^(16 + ceil_log2 P).
    const BatchAlignment ba = align_batch(dout.exp, batch, 16 + p_bits, reducer);
    int64_t* gb = params.grads(spec.bias);
    for (int64_t o = 0; o < O; ++o) {
      int64_t total = 0;
      for (int64_t n = 0; n < batch; ++n) {
        const int16_t* dy = dout.sample(n) + o * P;
        int64_t s = 0;
        for (int64_t p = 0; p < P; ++p) s += dy[p];
        total += apply_shift(s, ba.shift[static_cast<size_t>(n)]);
      }
      gb[o] = total;
    }
    params.tensors[spec.bias].g_exp = ba.exp;
  }
}

}  // namespace

Shape conv2d_out_shape(const Shape& in, const Conv2dSpec& spec) {
  const Geometry g = geometry(in, spec);
  return Shape{in[0], g.O, g.OH, g.OW};
}

void conv2d_forward(const Activation& out, const Activation& in, const ParamSet& params, const Conv2dSpec& spec) {
  visit(out, in, [&](auto y, auto x) { forward(y, x, params, spec); });
}

void conv2d_backward(Err* din, const Err& dout, const Activation& in, ParamSet& params, const Conv2dSpec& spec,
                     const BatchReducer& reducer) {
  visit(in, [&](auto x) { backward(din, dout, x, params, spec, reducer); });
}

}  // namespace zimt
