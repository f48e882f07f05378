#include "float_ref.hpp"

#include <algorithm>
#include <cassert>

namespace zimt::ref {

Owned<int8_t> random_act(Shape s, std::mt19937_64& rng, int exp_lo, int exp_hi, int max_abs) {
  Owned<int8_t> t(s);
  std::uniform_int_distribution<int> v(-max_abs, max_abs), e(exp_lo, exp_hi);
  for (auto& x : t.data) x = static_cast<int8_t>(v(rng));
  for (auto& x : t.exp) x = e(rng);
  return t;
}

Owned<int16_t> random_err(Shape s, std::mt19937_64& rng, int exp_lo, int exp_hi, int max_abs) {
  Owned<int16_t> t(s);
  std::uniform_int_distribution<int> v(-max_abs, max_abs), e(exp_lo, exp_hi);
  for (auto& x : t.data) x = static_cast<int16_t>(v(rng));
  for (auto& x : t.exp) x = e(rng);
  return t;
}

void random_weights(ParamSet& p, size_t t, std::mt19937_64& rng, int max_abs) {
  std::uniform_int_distribution<int> v(-max_abs, max_abs);
  int16_t* w = p.weights(t);
  for (size_t i = 0; i < p.tensors[t].numel; ++i) w[i] = static_cast<int16_t>(v(rng));
}

Vec real_weights(const ParamSet& p, size_t t) {
  Vec v(p.tensors[t].numel);
  for (size_t i = 0; i < v.size(); ++i) v[i] = std::ldexp(double(p.weights(t)[i]), p.tensors[t].w_exp);
  return v;
}

Vec real_grads(const ParamSet& p, size_t t) {
  Vec v(p.tensors[t].numel);
  for (size_t i = 0; i < v.size(); ++i) v[i] = std::ldexp(double(p.grads(t)[i]), p.tensors[t].g_exp);
  return v;
}

double max_error_in_steps(const Vec& a, const Vec& b, const Vec& step) {
  assert(a.size() == b.size() && a.size() == step.size());
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]) / step[i]);
  return m;
}

Vec error_signal_bounds(const Vec& ref, const Vec& step) {
  Vec b(ref.size());
  for (size_t i = 0; i < ref.size(); ++i) b[i] = std::max(0.5 * step[i], step[i] - std::abs(ref[i]));
  return b;
}

double max_ratio(const Vec& a, const Vec& b, const Vec& bound) {
  assert(a.size() == b.size() && a.size() == bound.size());
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]) / bound[i]);
  return m;
}

double max_relative_error(const Vec& a, const Vec& b) {
  assert(a.size() == b.size());
  double m = 0, s = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[i])), s = std::max(s, std::abs(b[i]));
  return s == 0 ? m : m / s;
}

// ---- linear -------------------------------------------------------------

Vec linear_forward(const Vec& x, const Vec& w, const Vec& b, int64_t N, int64_t I, int64_t O) {
  Vec y(static_cast<size_t>(N * O));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o) {
      double s = b.empty() ? 0.0 : b[static_cast<size_t>(o)];
      for (int64_t i = 0; i < I; ++i) s += x[static_cast<size_t>(n * I + i)] * w[static_cast<size_t>(o * I + i)];
      y[static_cast<size_t>(n * O + o)] = s;
    }
  return y;
}

void linear_backward(Vec& dx, Vec& dw, Vec& db, const Vec& dy, const Vec& x, const Vec& w, int64_t N, int64_t I,
                     int64_t O) {
  dx.assign(static_cast<size_t>(N * I), 0.0);
  dw.assign(static_cast<size_t>(O * I), 0.0);
  db.assign(static_cast<size_t>(O), 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o) {
      const double g = dy[static_cast<size_t>(n * O + o)];
      db[static_cast<size_t>(o)] += g;
      for (int64_t i = 0; i < I; ++i) {
        dx[static_cast<size_t>(n * I + i)] += g * w[static_cast<size_t>(o * I + i)];
        dw[static_cast<size_t>(o * I + i)] += g * x[static_cast<size_t>(n * I + i)];
      }
    }
}

// ---- conv2d -------------------------------------------------------------

namespace {
struct Geo {
  int64_t N, C, H, W, O, k, s, p, OH, OW;
};
Geo geo(const Shape& in, const Conv2dSpec& s) {
  return {in[0],
          in[1],
          in[2],
          in[3],
          s.out_channels,
          s.kernel,
          s.stride,
          s.padding,
          (in[2] + 2 * s.padding - s.kernel) / s.stride + 1,
          (in[3] + 2 * s.padding - s.kernel) / s.stride + 1};
}
// f(y index, x index, w index) for every valid tap.
template <class F>
void conv_taps(const Geo& g, F&& f) {
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t o = 0; o < g.O; ++o)
      for (int64_t oh = 0; oh < g.OH; ++oh)
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          const size_t yi = static_cast<size_t>(((n * g.O + o) * g.OH + oh) * g.OW + ow);
          for (int64_t c = 0; c < g.C; ++c)
            for (int64_t kh = 0; kh < g.k; ++kh)
              for (int64_t kw = 0; kw < g.k; ++kw) {
                const int64_t ih = oh * g.s - g.p + kh, iw = ow * g.s - g.p + kw;
                if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
                f(yi, static_cast<size_t>(((n * g.C + c) * g.H + ih) * g.W + iw),
                  static_cast<size_t>(((o * g.C + c) * g.k + kh) * g.k + kw), static_cast<size_t>(o));
              }
        }
}
}  // namespace

Vec conv2d_forward(const Vec& x, const Vec& w, const Vec& b, const Shape& in, const Conv2dSpec& s) {
  const Geo g = geo(in, s);
  Vec y(static_cast<size_t>(g.N * g.O * g.OH * g.OW), 0.0);
  if (!b.empty())
    for (size_t i = 0; i < y.size(); ++i) y[i] = b[i / static_cast<size_t>(g.OH * g.OW) % static_cast<size_t>(g.O)];
  conv_taps(g, [&](size_t yi, size_t xi, size_t wi, size_t) { y[yi] += x[xi] * w[wi]; });
  return y;
}

void conv2d_backward(Vec& dx, Vec& dw, Vec& db, const Vec& dy, const Vec& x, const Vec& w, const Shape& in,
                     const Conv2dSpec& s) {
  const Geo g = geo(in, s);
  dx.assign(x.size(), 0.0);
  dw.assign(w.size(), 0.0);
  db.assign(static_cast<size_t>(g.O), 0.0);
  for (size_t i = 0; i < dy.size(); ++i) db[i / static_cast<size_t>(g.OH * g.OW) % static_cast<size_t>(g.O)] += dy[i];
  conv_taps(g, [&](size_t yi, size_t xi, size_t wi, size_t) {
    dx[xi] += dy[yi] * w[wi];
    dw[wi] += dy[yi] * x[xi];
  });
}

// ---- relu, pools ----------------------------------------------------------

Vec relu_forward(const Vec& x) {
  Vec y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] > 0 ? x[i] : 0.0;
  return y;
}

Vec relu_backward(const Vec& dy, const Vec& x) {
  Vec dx(x.size());
  for (size_t i = 0; i < x.size(); ++i) dx[i] = x[i] > 0 ? dy[i] : 0.0;
  return dx;
}

namespace {
// index of the first maximum of each output window, in output order
std::vector<size_t> pool_argmax(const Vec& x, const Shape& in, const MaxPoolSpec& s) {
  const int64_t OH = (in[2] + 2 * s.padding - s.kernel) / s.stride + 1;
  const int64_t OW = (in[3] + 2 * s.padding - s.kernel) / s.stride + 1;
  std::vector<size_t> arg;
  for (int64_t nc = 0; nc < in[0] * in[1]; ++nc)
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow) {
        size_t best = 0;
        bool found = false;
        for (int64_t kh = 0; kh < s.kernel; ++kh)
          for (int64_t kw = 0; kw < s.kernel; ++kw) {
            const int64_t ih = oh * s.stride - s.padding + kh, iw = ow * s.stride - s.padding + kw;
            if (ih < 0 || ih >= in[2] || iw < 0 || iw >= in[3]) continue;
            const size_t i = static_cast<size_t>((nc * in[2] + ih) * in[3] + iw);
            if (!found || x[i] > x[best]) best = i, found = true;
          }
        arg.push_back(best);
      }
  return arg;
}
}  // namespace

Vec maxpool_forward(const Vec& x, const Shape& in, const MaxPoolSpec& s) {
  const auto arg = pool_argmax(x, in, s);
  Vec y(arg.size());
  for (size_t i = 0; i < arg.size(); ++i) y[i] = x[arg[i]];
  return y;
}

Vec maxpool_backward(const Vec& dy, const Vec& x, const Shape& in, const MaxPoolSpec& s) {
  const auto arg = pool_argmax(x, in, s);
  Vec dx(x.size(), 0.0);
  for (size_t i = 0; i < arg.size(); ++i) dx[arg[i]] += dy[i];
  return dx;
}

Vec global_avgpool_forward(const Vec& x, const Shape& in) {
  const size_t hw = static_cast<size_t>(in[2] * in[3]);
  Vec y(static_cast<size_t>(in[0] * in[1]), 0.0);
  for (size_t i = 0; i < x.size(); ++i) y[i / hw] += x[i] / double(hw);
  return y;
}

Vec global_avgpool_backward(const Vec& dy, const Shape& in) {
  const size_t hw = static_cast<size_t>(in[2] * in[3]);
  Vec dx(static_cast<size_t>(in.numel()));
  for (size_t i = 0; i < dx.size(); ++i) dx[i] = dy[i / hw] / double(hw);
  return dx;
}

// ---- softmax cross-entropy -----------------------------------------------------

double softmax_ce_forward(const Vec& z, const std::vector<int32_t>& labels, int64_t N, int64_t K, Vec* losses) {
  double total = 0;
  if (losses != nullptr) losses->assign(static_cast<size_t>(N), 0.0);
  for (int64_t n = 0; n < N; ++n) {
    const double* r = z.data() + n * K;
    const double m = *std::max_element(r, r + K);
    double s = 0;
    for (int64_t k = 0; k < K; ++k) s += std::exp(r[k] - m);
    const double l = std::log(s) - (r[labels[static_cast<size_t>(n)]] - m);
    if (losses != nullptr) (*losses)[static_cast<size_t>(n)] = l;
    total += l;
  }
  return total / double(N);
}

Vec softmax_ce_backward(const Vec& z, const std::vector<int32_t>& labels, int64_t N, int64_t K) {
  Vec g(z.size());
  for (int64_t n = 0; n < N; ++n) {
    const double* r = z.data() + n * K;
    const double m = *std::max_element(r, r + K);
    double s = 0;
    for (int64_t k = 0; k < K; ++k) s += std::exp(r[k] - m);
    for (int64_t k = 0; k < K; ++k)
      g[static_cast<size_t>(n * K + k)] =
          (std::exp(r[k] - m) / s - (k == labels[static_cast<size_t>(n)] ? 1.0 : 0.0)) / double(N);
  }
  return g;
}

// ---- checks ----------------------------------------------------------------------

double gradient_check(const std::function<double(const Vec&)>& f, Vec x, const Vec& analytic, double h) {
  double scale = 0;
  for (double a : analytic) scale = std::max(scale, std::abs(a));
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double x0 = x[i];
    x[i] = x0 + h;
    const double fp = f(x);
    x[i] = x0 - h;
    const double fm = f(x);
    x[i] = x0;
    const double fd = (fp - fm) / (2 * h);
    worst = std::max(worst, std::abs(fd - analytic[i]) / (std::abs(analytic[i]) + scale));
  }
  return worst;
}

double cosine(const Vec& a, const Vec& b) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.size(); ++i) ab += a[i] * b[i], aa += a[i] * a[i], bb += b[i] * b[i];
  if (aa == 0 || bb == 0) return aa == bb ? 1.0 : 0.0;
  return ab / std::sqrt(aa * bb);
}

SignStats sign_stats(const Vec& a, const Vec& ref) {
  int64_t nonzero = 0, agree = 0, flushed = 0;
  SignStats s;
  for (size_t i = 0; i < a.size(); ++i) {
    if (ref[i] == 0) {
      s.spurious += a[i] != 0;
      continue;
    }
    ++nonzero;
    agree += (a[i] > 0) == (ref[i] > 0) && a[i] != 0;
    flushed += a[i] == 0;
  }
  s.agree = nonzero ? double(agree) / double(nonzero) : 1.0;
  s.flushed = nonzero ? double(flushed) / double(nonzero) : 0.0;
  return s;
}

}  // namespace zimt::ref
