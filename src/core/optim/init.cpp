#include "zimt/optim/init.hpp"

#include "zimt/numerics.hpp"
#include "zimt/optim/zim.hpp"
#include "zimt/rng.hpp"

#include <algorithm>
#include <string>
#include <vector>

namespace zimt::optim {

namespace {

int64_t fan_in(const std::vector<int64_t>& shape) {
  int64_t f = 1;
  for (size_t k = 1; k < shape.size(); ++k) f *= shape[k];
  return std::max<int64_t>(f, 1);
}

// 1/sqrt(fan_in) in Q32.32, rounded down.
uint64_t bound_q32(int64_t fan) { return isqrt_u64(~uint64_t{0} / static_cast<uint64_t>(fan)); }

// x^k saturated at 2^100 (enough to compare against 2^k numel).
u128 pow_sat(u128 x, size_t k) {
  u128 r = 1;
  for (size_t i = 0; i < k; ++i) r = (r > (u128{1} << 100) / std::max<u128>(x, 1)) ? (u128{1} << 100) : r * x;
  return r;
}

// v_q ~ U{-b_q..b_q} for tensor t.
void standard_init(std::vector<int64_t>& v, uint64_t b, uint64_t seed, size_t t) {
  for (size_t i = 0; i < v.size(); ++i) {
    WordStream words(seed, Stream::init, 2 * t, i);
    v[i] = static_cast<int64_t>(uniform_below(2 * b + 1, words)) - static_cast<int64_t>(b);
  }
}

const ParamInfo* find_tensor(const ParamSet& p, const std::string& name) {
  for (const auto& t : p.tensors)
    if (t.name == name) return &t;
  return nullptr;
}

// Quantise v (Q32.32, |v| <= b) to int8 with the smallest exponent that fits.
void quantize(const std::vector<int64_t>& v, uint64_t b, ParamInfo& info, int16_t* w) {
  int e = -64;
  while (static_cast<u128>(127) << (e + 64) < static_cast<u128>(b) << 32) ++e;  // 127 2^e >= b 2^-32
  info.w_exp = e;
  const int shift = e + 32;  // w = v / 2^shift
  for (size_t i = 0; i < v.size(); ++i) {
    const int64_t q = shift >= 0 ? shift_round_even(v[i], shift) : v[i] * (int64_t{1} << -shift);
    w[i] = int16_t{saturate_i8(q)};
  }
}

}  // namespace

int64_t authors_init_trials(int64_t numel, size_t ndim) {
  if (ndim <= 1 || numel <= 1) return std::max<int64_t>(numel, 0);
  // r = floor(numel^(1/ndim)), then round: r + 1 if (r + 1/2)^ndim < numel,
  // i.e. (2r + 1)^ndim < 2^ndim numel (never a tie: odd vs even).
  int64_t r = 1;
  while (pow_sat(static_cast<u128>(r) + 1, ndim) <= static_cast<u128>(numel)) ++r;
  const bool up = pow_sat(2 * static_cast<u128>(r) + 1, ndim) < (static_cast<u128>(numel) << ndim);
  return up ? r + 1 : r;
}

void initialize(ParamSet& p, InitKind kind, uint64_t seed) {
  const int32_t limit = weight_limit(p.storage);
  ZimWorkspace ws;
  std::vector<int64_t> v;
  std::vector<int32_t> counts;
  for (size_t t = 0; t < p.tensors.size(); ++t) {
    ParamInfo& info = p.tensors[t];
    int16_t* w = p.weights(t);
    v.assign(info.numel, 0);
    uint64_t b = 0;
    if (info.kind == ParamKind::weight) {
      b = bound_q32(fan_in(info.shape));
      standard_init(v, b, seed, t);
    } else if (info.kind == ParamKind::norm_scale) {
      b = uint64_t{1} << 32;
      std::fill(v.begin(), v.end(), int64_t{1} << 32);
    } else if (kind == InitKind::float_quantized && info.name.size() > 5 && info.name.ends_with(".bias")) {
      if (const ParamInfo* weight = find_tensor(p, info.name.substr(0, info.name.size() - 5) + ".weight")) {
        b = bound_q32(fan_in(weight->shape));
        standard_init(v, b, seed, t);
      }
    }
    if (kind == InitKind::float_quantized) {
      if (b == 0) {
        info.w_exp = 0;
        std::fill(w, w + info.numel, int16_t{0});
      } else {
        quantize(v, b, info, w);
      }
      continue;
    }
    info.w_exp = 0;
    if (info.kind == ParamKind::bias) {
      std::fill(w, w + info.numel, int16_t{0});
      continue;
    }
    const int64_t n = kind == InitKind::dense
                          ? static_cast<int64_t>(info.numel)
                          : authors_init_trials(static_cast<int64_t>(info.numel), info.shape.size());
    counts.assign(info.numel, 0);
    zim_sample(v, -32, {ZimRule::authors, n, int64_t{1} << 32, 0}, {seed, 2 * t + 1, 0, Stream::init}, counts, ws);
    for (size_t i = 0; i < info.numel; ++i)
      w[i] = static_cast<int16_t>(std::clamp<int64_t>(int64_t{counts[i]} * ws.scaled.sign[i], -limit, limit));
  }
}

}  // namespace zimt::optim
