// Kernel-only speed of gemm_nt per implementation at the MNIST CNN's shapes;
// items_per_second = multiply-accumulates per second (GMAC/s with suffix G).
//   bench_gemm [--benchmark_filter=conv2_fwd]
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "zimt/kernels/gemm.hpp"

namespace {

using zimt::kernels::Implementation;

enum class Types { i8_i16, i16_i8, i16_i16 };

struct Case {
  const char* name;
  int64_t m, n, k;
  Types types;
};

// The call sites in src/core/layers (conv2d.cpp, linear.cpp) for mnist_cnn.
const Case kCases[] = {
    {"conv1_fwd", 32, 784, 9, Types::i16_i8},          {"conv1_bwd_w", 32, 9, 784, Types::i16_i8},
    {"conv2_fwd", 64, 196, 288, Types::i16_i8},        {"conv2_bwd_in", 196, 288, 64, Types::i16_i16},
    {"conv2_bwd_w", 64, 288, 196, Types::i16_i8},      {"linear1_fwd_m1", 1, 128, 3136, Types::i8_i16},
    {"linear1_fwd_m32", 32, 128, 3136, Types::i8_i16}, {"linear1_bwd_in_m32", 32, 3136, 128, Types::i16_i16},
};

template <class T>
std::vector<T> random_vec(int64_t n, int lo, int hi) {
  std::mt19937_64 rng(static_cast<uint64_t>(n));
  std::uniform_int_distribution<int> d(lo, hi);
  std::vector<T> v(static_cast<size_t>(n));
  for (auto& x : v) x = static_cast<T>(d(rng));
  return v;
}

void run(benchmark::State& state, const Implementation& impl, const Case& cs) {
  // Engine-like operands: int8 activations, int16 clamped to +-32767.
  const auto a8 = random_vec<int8_t>(cs.m * cs.k, -127, 127);
  const auto b8 = random_vec<int8_t>(cs.n * cs.k, -127, 127);
  const auto a16 = random_vec<int16_t>(cs.m * cs.k, -32767, 32767);
  const auto b16 = random_vec<int16_t>(cs.n * cs.k, -32767, 32767);
  std::vector<int64_t> c(static_cast<size_t>(cs.m * cs.n));
  for (auto _ : state) {
    switch (cs.types) {
      case Types::i8_i16: impl.i8_i16(c.data(), cs.n, a8.data(), cs.k, b16.data(), cs.k, cs.m, cs.n, cs.k); break;
      case Types::i16_i8: impl.i16_i8(c.data(), cs.n, a16.data(), cs.k, b8.data(), cs.k, cs.m, cs.n, cs.k); break;
      case Types::i16_i16: impl.i16_i16(c.data(), cs.n, a16.data(), cs.k, b16.data(), cs.k, cs.m, cs.n, cs.k); break;
    }
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * cs.m * cs.n * cs.k);
}

}  // namespace

int main(int argc, char** argv) {
  for (const Implementation& impl : zimt::kernels::implementations()) {
    if (!impl.available()) continue;
    for (const Case& cs : kCases)
      benchmark::RegisterBenchmark((std::string(cs.name) + "/" + impl.name).c_str(),
                                   [&impl, &cs](benchmark::State& state) { run(state, impl, cs); });
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
}
