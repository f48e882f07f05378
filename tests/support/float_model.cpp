#include "float_model.hpp"

#include <cassert>
#include <cmath>
#include <cstdio>

#include "zimt/rng.hpp"

namespace zimt::ref {

Vec layernorm_forward(const Vec& x, int64_t N, int64_t M, double eps) {
  Vec y(x.size());
  for (int64_t n = 0; n < N; ++n) {
    const double* xs = x.data() + n * M;
    double mean = 0, var = 0;
    for (int64_t i = 0; i < M; ++i) mean += xs[i];
    mean /= double(M);
    for (int64_t i = 0; i < M; ++i) var += (xs[i] - mean) * (xs[i] - mean);
    var /= double(M);
    const double inv = 1.0 / std::sqrt(var + eps);
    for (int64_t i = 0; i < M; ++i) y[static_cast<size_t>(n * M + i)] = (xs[i] - mean) * inv;
  }
  return y;
}

Vec layernorm_backward(const Vec& dy, const Vec& x, int64_t N, int64_t M, double eps) {
  const Vec y = layernorm_forward(x, N, M, eps);
  Vec dx(x.size());
  for (int64_t n = 0; n < N; ++n) {
    const double* xs = x.data() + n * M;
    double mean = 0, var = 0;
    for (int64_t i = 0; i < M; ++i) mean += xs[i];
    mean /= double(M);
    for (int64_t i = 0; i < M; ++i) var += (xs[i] - mean) * (xs[i] - mean);
    var /= double(M);
    const double inv = 1.0 / std::sqrt(var + eps);
    double mdy = 0, mdyy = 0;
    for (int64_t i = 0; i < M; ++i) {
      const size_t k = static_cast<size_t>(n * M + i);
      mdy += dy[k];
      mdyy += dy[k] * y[k];
    }
    mdy /= double(M);
    mdyy /= double(M);
    for (int64_t i = 0; i < M; ++i) {
      const size_t k = static_cast<size_t>(n * M + i);
      dx[k] = (dy[k] - mdy - y[k] * mdyy) * inv;
    }
  }
  return dx;
}

namespace {

Shape nchw(int64_t N, const Shape3& s) { return Shape{N, s.c, s.h, s.w}; }

Vec add(const Vec& a, const Vec& b) {
  Vec c(a.size());
  for (size_t i = 0; i < a.size(); ++i) c[i] = a[i] + b[i];
  return c;
}

Vec conv_fwd(const Model& m, const Conv2dSpec& s, const Vec& x, const Shape& in) {
  const Vec b = s.has_bias ? real_weights(m.params, s.bias) : Vec{};
  return conv2d_forward(x, real_weights(m.params, s.weight), b, in, s);
}

Vec conv_bwd(const Model& m, const Conv2dSpec& s, const Vec& dy, const Vec& x, const Shape& in,
             std::vector<Vec>& grads) {
  Vec dx, dw, db;
  conv2d_backward(dx, dw, db, dy, x, real_weights(m.params, s.weight), in, s);
  grads[s.weight] = dw;
  if (s.has_bias) grads[s.bias] = db;
  return dx;
}

// A basic block's intermediates (residual.hpp names).
struct BlockCache {
  Vec h1, n1, a1, h2, n2, hp, np, sum;
};

Vec block_fwd(const Model& m, const BasicBlockSpec& s, const Vec& x, const Shape& in, BlockCache& c) {
  const Shape out = conv2d_out_shape(in, s.conv1);
  const int64_t N = in[0], M = out.sample_numel();
  c.h1 = conv_fwd(m, s.conv1, x, in);
  c.n1 = layernorm_forward(c.h1, N, M);
  c.a1 = relu_forward(c.n1);
  c.h2 = conv_fwd(m, s.conv2, c.a1, out);
  c.n2 = layernorm_forward(c.h2, N, M);
  if (s.has_projection) {
    c.hp = conv_fwd(m, s.projection, x, in);
    c.np = layernorm_forward(c.hp, N, M);
    c.sum = add(c.n2, c.np);
  } else {
    c.sum = add(c.n2, x);
  }
  return relu_forward(c.sum);
}

Vec block_bwd(const Model& m, const BasicBlockSpec& s, const Vec& dout, const Vec& x, const Shape& in,
              const BlockCache& c, std::vector<Vec>& grads) {
  const Shape out = conv2d_out_shape(in, s.conv1);
  const int64_t N = in[0], M = out.sample_numel();
  const Vec dsum = relu_backward(dout, c.sum);
  const Vec dh2 = layernorm_backward(dsum, c.h2, N, M);
  const Vec da1 = conv_bwd(m, s.conv2, dh2, c.a1, out, grads);
  const Vec dn1 = relu_backward(da1, c.n1);
  const Vec dh1 = layernorm_backward(dn1, c.h1, N, M);
  const Vec dmain = conv_bwd(m, s.conv1, dh1, x, in, grads);
  if (s.has_projection) {
    const Vec dhp = layernorm_backward(dsum, c.hp, N, M);
    return add(dmain, conv_bwd(m, s.projection, dhp, x, in, grads));
  }
  return add(dmain, dsum);
}

}  // namespace

FloatPass float_model_pass(const Model& model, const Vec& input, const std::vector<int32_t>& labels, int64_t N) {
  FloatPass r;
  const size_t L = model.layers.size();
  std::vector<BlockCache> blocks(L);
  r.layer_out.resize(L);
  const Vec* x = &input;
  for (size_t i = 0; i < L; ++i) {
    const ModelLayer& l = model.layers[i];
    const Shape in = nchw(N, l.in);
    Vec& y = r.layer_out[i];
    switch (l.kind) {
      case LayerKind::conv2d: y = conv_fwd(model, l.conv, *x, in); break;
      case LayerKind::linear: {
        const Vec b = l.linear.has_bias ? real_weights(model.params, l.linear.bias) : Vec{};
        y = linear_forward(*x, real_weights(model.params, l.linear.weight), b, N, l.in.c, l.out.c);
        break;
      }
      case LayerKind::relu: y = relu_forward(*x); break;
      case LayerKind::maxpool: y = maxpool_forward(*x, in, l.pool); break;
      case LayerKind::global_avgpool: y = global_avgpool_forward(*x, in); break;
      case LayerKind::flatten: y = *x; break;
      case LayerKind::layernorm: y = layernorm_forward(*x, N, l.in.numel()); break;
      case LayerKind::basic_block: y = block_fwd(model, l.block, *x, in, blocks[i]); break;
    }
    x = &y;
  }
  const int64_t K = model.spec.classes;
  r.logits = r.layer_out.back();
  r.loss = softmax_ce_forward(r.logits, labels, N, K);
  Vec dy = softmax_ce_backward(r.logits, labels, N, K);
  r.grads.assign(model.params.tensors.size(), Vec{});
  for (size_t i = L; i-- > 0;) {
    const ModelLayer& l = model.layers[i];
    const Shape in = nchw(N, l.in);
    const Vec& xi = i == 0 ? input : r.layer_out[i - 1];
    Vec dx;
    switch (l.kind) {
      case LayerKind::conv2d: dx = conv_bwd(model, l.conv, dy, xi, in, r.grads); break;
      case LayerKind::linear: {
        Vec dw, db;
        linear_backward(dx, dw, db, dy, xi, real_weights(model.params, l.linear.weight), N, l.in.c, l.out.c);
        r.grads[l.linear.weight] = dw;
        if (l.linear.has_bias) r.grads[l.linear.bias] = db;
        break;
      }
      case LayerKind::relu: dx = relu_backward(dy, xi); break;
      case LayerKind::maxpool: dx = maxpool_backward(dy, xi, in, l.pool); break;
      case LayerKind::global_avgpool: dx = global_avgpool_backward(dy, in); break;
      case LayerKind::flatten: dx = dy; break;
      case LayerKind::layernorm: dx = layernorm_backward(dy, xi, N, l.in.numel()); break;
      case LayerKind::basic_block: dx = block_bwd(model, l.block, dy, xi, in, blocks[i], r.grads); break;
    }
    dy = std::move(dx);
  }
  return r;
}

void dense_integer_start(ParamSet& params, uint64_t seed) {
  for (size_t i = 0; i < params.size(); ++i) {
    const Block b = philox(seed, Stream::test_data, 0, i);
    int count = 0;
    for (int k = 0; k < 4; ++k) count += (b[static_cast<size_t>(k)] & 3u) == 0 ? 1 : 0;  // Bernoulli(1/4) x 4
    params.w[i] = static_cast<int16_t>((b[0] >> 31) != 0 ? -count : count);
  }
}

std::vector<GradAgreement> gradient_agreement(const ParamSet& params, const FloatPass& ref) {
  std::vector<GradAgreement> rows;
  for (size_t t = 0; t < params.tensors.size(); ++t) {
    GradAgreement g;
    g.name = params.tensors[t].name;
    g.numel = params.tensors[t].numel;
    const Vec mine = real_grads(params, t);
    g.cosine = cosine(mine, ref.grads[t]);
    g.signs = sign_stats(mine, ref.grads[t]);
    for (double v : ref.grads[t]) g.ref_nonzero += v != 0.0 ? 1 : 0;
    rows.push_back(g);
  }
  return rows;
}

std::string format_agreement(const std::vector<GradAgreement>& rows) {
  std::string s = "tensor                        numel  ref!=0  cosine  sign_agree  flushed  spurious\n";
  char line[256];
  for (const auto& r : rows) {
    std::snprintf(line, sizeof line, "%-28s %6zu %7lld  %6.4f  %9.2f%%  %6.2f%%  %8lld\n", r.name.c_str(), r.numel,
                  static_cast<long long>(r.ref_nonzero), r.cosine, 100 * r.signs.agree, 100 * r.signs.flushed,
                  static_cast<long long>(r.signs.spurious));
    s += line;
  }
  return s;
}

}  // namespace zimt::ref
