// LayerNorm golden hashes: every output mantissa, exponent and saturation
// count of the integer forward and backward (int8 and int16 inputs, int8
// and int16 outputs) on deterministic data, hashed (FNV-1a) and compared
// with constants recorded from the straightforward 128-bit implementation
// (commit "LayerNorm golden test"). Any optimisation of layernorm.cpp must
// keep them bit for bit. The data covers M = 1, constant samples, extreme
// values (±127, ±32767, M = 2^20), peaked samples, exponents far from 0 in
// both directions (the eps term), several output caps and batches 1..7.
#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

#include "zimt/layers/layernorm.hpp"

using namespace zimt;

namespace {

// splitmix64: the data must not depend on the standard library's distributions.
struct Rng {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  int64_t uniform(int64_t lo, int64_t hi) {  // [lo, hi]
    return lo + static_cast<int64_t>(next() % static_cast<uint64_t>(hi - lo + 1));
  }
};

struct Fnv {
  uint64_t h = 0xcbf29ce484222325ull;
  void bytes(const void* p, size_t n) {
    const auto* b = static_cast<const unsigned char*>(p);
    for (size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 0x100000001b3ull;
  }
  template <class T>
  void vec(const std::vector<T>& v) {
    bytes(v.data(), v.size() * sizeof(T));
  }
  void i64(int64_t v) { bytes(&v, sizeof v); }
};

// Sample kinds: how one sample's mantissas are drawn (lim = 127 or 32767).
enum Kind { kUniform, kSmall, kConstant, kExtreme, kPeaked, kSparse, kOneHot, kNumKinds };

template <class T>
void fill_sample(T* x, int64_t m, Kind kind, int64_t lim, Rng& rng) {
  switch (kind) {
    case kUniform:
      for (int64_t i = 0; i < m; ++i) x[i] = static_cast<T>(rng.uniform(-lim, lim));
      break;
    case kSmall:
      for (int64_t i = 0; i < m; ++i) x[i] = static_cast<T>(rng.uniform(-3, 3));
      break;
    case kConstant: {
      const int64_t options[] = {0, 1, -1, 5, lim, -lim};
      const T v = static_cast<T>(options[rng.uniform(0, 5)]);
      for (int64_t i = 0; i < m; ++i) x[i] = v;
      break;
    }
    case kExtreme:  // only ±lim (and 0 in every third sample): the largest D
      for (int64_t i = 0; i < m; ++i) {
        const int64_t r = rng.uniform(0, 2);
        x[i] = static_cast<T>(r == 0 ? lim : r == 1 ? -lim : 0);
      }
      break;
    case kPeaked:  // a peaked sample (docs/design.md, Rounding): zeros, small values, a few at lim
      for (int64_t i = 0; i < m; ++i) {
        const int64_t r = rng.uniform(0, 999);
        x[i] = static_cast<T>(r < 930 ? 0 : r < 997 ? rng.uniform(1, 6) : lim);
      }
      break;
    case kSparse:  // mostly one value, a few others (large bulk |ŷ| small)
      for (int64_t i = 0; i < m; ++i) x[i] = static_cast<T>(rng.uniform(0, 99) < 97 ? -2 : rng.uniform(-lim, lim));
      break;
    case kOneHot:  // one entry differs: max|ŷ| = sqrt(M-1), the largest possible
      for (int64_t i = 0; i < m; ++i) x[i] = static_cast<T>(-lim);
      x[rng.uniform(0, m - 1)] = static_cast<T>(lim);
      break;
    default: break;
  }
}

int32_t draw_exp(Rng& rng) {
  const int32_t far[] = {-200, -40, -30, -20, 12, 30, 200};
  return rng.uniform(0, 4) == 0 ? far[rng.uniform(0, 6)] : static_cast<int32_t>(rng.uniform(-12, 6));
}

struct Case {
  int64_t n, m;
};

// All hashes of one input type T (int8_t or int16_t).
template <class T>
void hash_all(const std::vector<Case>& cases, int64_t lim, uint64_t seed, Fnv& fwd8, Fnv& fwd16, Fnv& bwd) {
  Rng rng{seed};
  const int32_t caps[] = {-3, 100, -2, -6};
  int c = 0;
  for (const Case& cs : cases) {
    for (int kind_base = 0; kind_base < kNumKinds; ++kind_base, ++c) {
      const Shape shape{cs.n, cs.m};
      std::vector<T> x(static_cast<size_t>(cs.n * cs.m));
      std::vector<int32_t> xe(static_cast<size_t>(cs.n));
      for (int64_t s = 0; s < cs.n; ++s) {
        // Mixed kinds within a batch: sample s of the batch gets kind_base + s.
        fill_sample(x.data() + s * cs.m, cs.m, static_cast<Kind>((kind_base + s) % kNumKinds), lim, rng);
        xe[static_cast<size_t>(s)] = draw_exp(rng);
      }
      const Tensor<T> in{x.data(), xe.data(), shape};

      std::vector<int8_t> y8(x.size());
      std::vector<int32_t> y8e(xe.size());
      Act out8{y8.data(), y8e.data(), shape};
      const int64_t sat = layernorm_forward(out8, in, LayerNormSpec{caps[c % 4]});
      fwd8.vec(y8);
      fwd8.vec(y8e);
      fwd8.i64(sat);

      if constexpr (sizeof(T) == 2) {
        std::vector<int16_t> y16(x.size());
        std::vector<int32_t> y16e(xe.size());
        Tensor<int16_t> out16{y16.data(), y16e.data(), shape};
        layernorm_forward(out16, in);
        fwd16.vec(y16);
        fwd16.vec(y16e);
      }

      // dout: random full range, small, extreme, zero (per batch, rotating).
      std::vector<int16_t> dy(x.size());
      std::vector<int32_t> dye(xe.size());
      for (size_t i = 0; i < dy.size(); ++i) {
        switch (c % 4) {
          case 0: dy[i] = static_cast<int16_t>(rng.uniform(-32767, 32767)); break;
          case 1: dy[i] = static_cast<int16_t>(rng.uniform(-2, 2)); break;
          case 2: dy[i] = static_cast<int16_t>(rng.uniform(0, 1) ? 32767 : -32767); break;
          default: dy[i] = 0; break;
        }
      }
      for (auto& e : dye) e = static_cast<int32_t>(rng.uniform(-30, 0));
      std::vector<int16_t> dx(x.size());
      std::vector<int32_t> dxe(xe.size());
      Err din{dx.data(), dxe.data(), shape};
      const Err dout{dy.data(), dye.data(), shape};
      layernorm_backward(din, dout, in);
      bwd.vec(dx);
      bwd.vec(dxe);
    }
  }
}

const std::vector<Case> kCases = {{1, 1},   {3, 1},   {7, 1},   {1, 2},   {2, 3},    {5, 7},    {4, 10},   {6, 64},
                                  {3, 100}, {2, 147}, {7, 196}, {1, 784}, {4, 1000}, {2, 3136}, {3, 6272}, {1, 65536}};

}  // namespace

TEST_CASE("layernorm golden hashes: int8 inputs") {
  Fnv fwd8, fwd16, bwd;
  hash_all<int8_t>(kCases, 127, 1, fwd8, fwd16, bwd);
  CHECK(fwd8.h == 2610866052802953461ull);
  CHECK(bwd.h == 16627118801715196698ull);
}

TEST_CASE("layernorm golden hashes: int16 inputs") {
  Fnv fwd8, fwd16, bwd;
  hash_all<int16_t>(kCases, 32767, 2, fwd8, fwd16, bwd);
  CHECK(fwd8.h == 13792366642588567759ull);
  CHECK(fwd16.h == 6058255713624978836ull);
  CHECK(bwd.h == 6218272868634511539ull);
}

TEST_CASE("layernorm golden hashes: the largest sample, M = 2^20") {
  Fnv fwd8, fwd16, bwd;
  hash_all<int16_t>({{1, kLayerNormMaxSample}}, 32767, 3, fwd8, fwd16, bwd);
  Fnv fwd8b, fwd16b, bwdb;
  hash_all<int8_t>({{1, kLayerNormMaxSample}}, 127, 4, fwd8b, fwd16b, bwdb);
  CHECK(fwd8.h == 15236131380657017877ull);
  CHECK(fwd16.h == 7057470290901023061ull);
  CHECK(bwd.h == 2475824730034827727ull);
  CHECK(fwd8b.h == 6895278739140475260ull);
  CHECK(bwdb.h == 7284174408024347290ull);
}

// Exact halves, where round-half-even differs from rounding half up: a
// constant sample has ŷ = 0 and G = 0, so the backward's v_i = (M·d_i - A)·r·2^40
// has its lowest set bit at 40 + (the trailing zeros of (M·d_i - A)·r), and
// for M = 2^15 the shift into int64 lands on it (~7·10^5 exact halves here).
// Two-valued samples of power-of-two size make M·x - s1 a power of two times
// the gap. Swept over exponents (the eps term). Note: a tie in the backward's
// first rounding moves acc by one unit below the int16 step, so it reaches
// the output only when the second rounding is itself at a tie.
template <class T>
void hash_ties(int64_t lim, uint64_t seed, Fnv& fwd, Fnv& bwd) {
  Rng rng{seed};
  // Up to M = 2^15: the backward's shift passes bit 40 only when (M·d - A)·r
  // reaches 2^62, i.e. for M >= 2^14 in a constant sample.
  struct Sweep {
    int64_t m;
    int32_t e_step;
  };
  for (const Sweep sw : {Sweep{2, 1}, Sweep{4, 1}, Sweep{64, 1}, Sweep{1024, 1}, Sweep{4096, 1}, Sweep{32768, 9}}) {
    const int64_t m = sw.m;
    for (int32_t e = -70; e <= 40; e += sw.e_step) {
      const int64_t n = 4;
      const Shape shape{n, m};
      std::vector<T> x(static_cast<size_t>(n * m));
      std::vector<int32_t> xe(static_cast<size_t>(n), e);
      for (int64_t s = 0; s < n; ++s) {
        const int64_t a = rng.uniform(-lim, lim), gap = int64_t{1} << rng.uniform(0, sizeof(T) == 1 ? 6 : 14);
        for (int64_t i = 0; i < m; ++i)
          x[static_cast<size_t>(s * m + i)] =
              static_cast<T>(s % 2 == 0 || i % 2 == 0 ? a : (a > 0 ? a - gap : a + gap));
      }
      const Tensor<T> in{x.data(), xe.data(), shape};
      std::vector<int8_t> y(x.size());
      std::vector<int32_t> ye(xe.size());
      Act out{y.data(), ye.data(), shape};
      fwd.i64(layernorm_forward(out, in));
      fwd.vec(y);
      fwd.vec(ye);
      if constexpr (sizeof(T) == 2) {
        std::vector<int16_t> y16(x.size());
        Tensor<int16_t> out16{y16.data(), ye.data(), shape};
        layernorm_forward(out16, in);
        fwd.vec(y16);
        fwd.vec(ye);
      }
      std::vector<int16_t> dy(x.size()), dx(x.size());
      std::vector<int32_t> dye(xe.size(), -15), dxe(xe.size());
      for (auto& v : dy) v = static_cast<int16_t>(rng.uniform(-(int64_t{1} << rng.uniform(0, 15)) + 1, 32767));
      Err din{dx.data(), dxe.data(), shape};
      layernorm_backward(din, Err{dy.data(), dye.data(), shape}, in);
      bwd.vec(dx);
      bwd.vec(dxe);
    }
  }
}

TEST_CASE("layernorm golden hashes: exact rounding ties") {
  Fnv fwd8, bwd8, fwd16, bwd16;
  hash_ties<int8_t>(127, 5, fwd8, bwd8);
  hash_ties<int16_t>(32767, 6, fwd16, bwd16);
  CHECK(fwd8.h == 1871096401858107170ull);
  CHECK(bwd8.h == 17985671278420152242ull);
  CHECK(fwd16.h == 7630532383226573579ull);
  CHECK(bwd16.h == 2189708497631773943ull);
}
