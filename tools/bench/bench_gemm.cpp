// Kernel-only speed of gemm_nt per implementation at the GEMM shapes the
// shipped models run (mlp, mnist_cnn, resnet18 at batch 64, as the layers in
// src/core/layers call it), as GOPS (2 operations per multiply-accumulate)
// and as a percentage of this core's measured peak of the int8 (vpdpbusd)
// and int16 (vpdpwssd) instruction, both zmm, from a register-only loop.
//   bench_gemm [--benchmark_filter=cnn_conv2] [--benchmark_min_time=0.2]
// One thread: the kernels are serial (the layers parallelise around them).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <random>
#include <string>
#include <vector>

#include "zimt/kernels/gemm.hpp"

namespace {

using zimt::kernels::Implementation;

enum class Types { i8_i16, i16_i8, i16_i16, i8_i8 };

// A GEMM call of a layer: c (m,n) = a (m,k) · b (n,k)ᵀ with |a| <= amax and
// |b| <= bmax (weights: 127 under the int8 storage policy; int16 errors and
// activations: 32767). The bounds decide the kernels' flush interval and
// whether they split b into bytes, so they follow the engine's operands.
struct Case {
  const char* name;
  int64_t m, n, k;
  Types types;
  int amax, bmax;
  bool c32 = false;  // int32 C (the bound k·amax·bmax < 2^31 holds)
};

constexpr int kW = 127, kI16 = 32767, kI8 = 127;

// fwd: forward, bwd_in: error backward, bwd_w: weight gradient. The linear
// layers run one sample per call (m = 1); conv layers group samples (n or k
// is samples·positions). ResNet-18's layer4 on 28x28 inputs has 1x1 images,
// where only the centre tap reads the image: its GEMMs take that tap alone
// (k = 512 channels), and its error backward is the forward's shape. The int8 x int8 rows are the forward GEMMs with
// int8 inputs and int8-policy weights, which the layers hand over as int8
// (int16 inputs: int8 x int16); _c32 rows the same call with an int32 C.
const Case kCases[] = {
    {"mlp_fc1_fwd", 1, 128, 784, Types::i8_i16, kI8, kW},
    {"mlp_fc1_fwd_i8i8", 1, 128, 784, Types::i8_i8, kI8, kW},
    {"mlp_fc1_fwd_i8i8_m64", 64, 128, 784, Types::i8_i8, kI8, kW},
    {"cnn_conv1_fwd", 32, 784, 9, Types::i16_i8, kW, kI8},
    {"cnn_conv1_fwd_i8i8", 32, 784, 9, Types::i8_i8, kW, kI8},
    {"cnn_conv1_bwd_w", 32, 9, 6272, Types::i16_i8, kI16, kI8},
    {"cnn_conv2_fwd", 64, 196, 288, Types::i16_i16, kW, kI16},
    {"cnn_conv2_fwd_i8i16", 64, 196, 288, Types::i8_i16, kW, kI16},
    {"cnn_conv2_fwd_i8i16_c32", 64, 196, 288, Types::i8_i16, kW, kI16, true},
    {"cnn_conv2_bwd_in", 196, 288, 64, Types::i16_i16, kI16, kW},
    {"cnn_conv2_bwd_in_c32", 196, 288, 64, Types::i16_i16, kI16, kW, true},
    {"cnn_conv2_bwd_w", 64, 288, 1568, Types::i16_i16, kI16, kI16},
    {"cnn_fc1_fwd", 1, 128, 3136, Types::i16_i16, kI16, kW},
    {"cnn_fc1_bwd_in", 1, 3136, 128, Types::i16_i16, kI16, kW},
    {"rn18_conv1_fwd", 64, 196, 49, Types::i16_i8, kW, kI8},
    {"rn18_conv1_fwd_i8i8", 64, 196, 49, Types::i8_i8, kW, kI8},
    {"rn18_l1_fwd", 64, 147, 576, Types::i16_i16, kW, kI16},
    {"rn18_l1_bwd_in", 147, 576, 64, Types::i16_i16, kI16, kW},
    {"rn18_l1_bwd_in_c32", 147, 576, 64, Types::i16_i16, kI16, kW, true},
    {"rn18_l1_bwd_w", 64, 576, 392, Types::i16_i16, kI16, kI16},
    {"rn18_l2_fwd", 128, 128, 1152, Types::i16_i16, kW, kI16},
    {"rn18_l2_fwd_i8i16", 128, 128, 1152, Types::i8_i16, kW, kI16},
    {"rn18_l2_bwd_in", 128, 1152, 128, Types::i16_i16, kI16, kW},
    {"rn18_l2_bwd_w", 128, 1152, 256, Types::i16_i16, kI16, kI16},
    {"rn18_l3_fwd", 256, 64, 2304, Types::i16_i16, kW, kI16},
    {"rn18_l3_bwd_in", 64, 2304, 256, Types::i16_i16, kI16, kW},
    {"rn18_l3_bwd_w", 256, 2304, 260, Types::i16_i16, kI16, kI16},
    {"rn18_l4_fwd", 512, 16, 512, Types::i16_i16, kW, kI16},
    {"rn18_l4_fwd_c32", 512, 16, 512, Types::i16_i16, kW, kI16, true},
    {"rn18_l4_bwd_w", 512, 512, 68, Types::i16_i16, kI16, kI16},
};

template <class T>
std::vector<T> random_vec(int64_t n, int max_abs) {
  std::mt19937_64 rng(static_cast<uint64_t>(n) * 31 + static_cast<uint64_t>(max_abs));
  std::uniform_int_distribution<int> d(-max_abs, max_abs);
  std::vector<T> v(static_cast<size_t>(n));
  for (auto& x : v) x = static_cast<T>(d(rng));
  return v;
}

// Peak multiply-accumulates per second of one instruction on one core: a
// loop of 16 independent accumulator chains (zmm0-15; enough to cover
// latency x throughput), written in assembly so that nothing but the
// instruction and the loop counter runs.
#define ZIMT_PEAK_STEP(insn, r) insn " %%zmm30, %%zmm31, %%zmm" #r "\n\t"
#define ZIMT_PEAK_LOOP(insn) \
  asm volatile("vpternlogd $0xff, %%zmm30, %%zmm30, %%zmm30\n\t"                                                  \
               "vpxord %%zmm31, %%zmm31, %%zmm31\n\t"                                                              \
               "1:\n\t" ZIMT_PEAK_STEP(insn, 0) ZIMT_PEAK_STEP(insn, 1) ZIMT_PEAK_STEP(insn, 2)                      \
                   ZIMT_PEAK_STEP(insn, 3) ZIMT_PEAK_STEP(insn, 4) ZIMT_PEAK_STEP(insn, 5) ZIMT_PEAK_STEP(insn, 6)     \
                       ZIMT_PEAK_STEP(insn, 7) ZIMT_PEAK_STEP(insn, 8) ZIMT_PEAK_STEP(insn, 9)                        \
                           ZIMT_PEAK_STEP(insn, 10) ZIMT_PEAK_STEP(insn, 11) ZIMT_PEAK_STEP(insn, 12)                 \
                               ZIMT_PEAK_STEP(insn, 13) ZIMT_PEAK_STEP(insn, 14) ZIMT_PEAK_STEP(insn, 15)             \
               "dec %0\n\t"                                                                                        \
               "jnz 1b"                                                                                            \
               : "+r"(iters)                                                                                       \
               :                                                                                                   \
               : "zmm0", "zmm1", "zmm2", "zmm3", "zmm4", "zmm5", "zmm6", "zmm7", "zmm8", "zmm9", "zmm10", "zmm11",  \
                 "zmm12", "zmm13", "zmm14", "zmm15", "zmm30", "zmm31", "cc")
constexpr int kChains = 16;

template <bool Int8>
__attribute__((target("avx512f"))) void peak_loop(int64_t iters) {
  if constexpr (Int8)
    ZIMT_PEAK_LOOP("vpdpbusd");
  else
    ZIMT_PEAK_LOOP("vpdpwssd");
}

// Seconds of CPU time of this thread (what Google Benchmark's rates divide
// by too, so that load from other processes affects both sides alike).
double thread_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

// Best of 5 runs of ~20 ms, in MACs per CPU second.
template <bool Int8>
double peak_macs_per_second() {
  constexpr int64_t iters = 1 << 18;
  constexpr double macs_per_iter = kChains * 16.0 * (Int8 ? 4 : 2);
  double best = 0;
  for (int r = 0; r < 5; ++r) {
    const double t0 = thread_seconds();
    peak_loop<Int8>(iters);
    const double s = thread_seconds() - t0;
    best = std::max(best, macs_per_iter * double(iters) / s);
  }
  return best;
}

double g_peak_i8 = 0, g_peak_i16 = 0;  // MACs per second, set in main

void run(benchmark::State& state, const Implementation& impl, const Case& cs) {
  const auto a8 = random_vec<int8_t>(cs.m * cs.k, cs.amax);
  const auto b8 = random_vec<int8_t>(cs.n * cs.k, cs.bmax);
  const auto a16 = random_vec<int16_t>(cs.m * cs.k, cs.amax);
  const auto b16 = random_vec<int16_t>(cs.n * cs.k, cs.bmax);
  std::vector<int64_t> c(static_cast<size_t>(cs.m * cs.n));
  std::vector<int32_t> c32(static_cast<size_t>(cs.m * cs.n));
  for (auto _ : state) {
    if (cs.c32) {
      switch (cs.types) {
        case Types::i8_i16:
          impl.i8_i16_c32(c32.data(), cs.n, a8.data(), cs.k, b16.data(), cs.k, cs.m, cs.n, cs.k);
          break;
        case Types::i16_i8:
          impl.i16_i8_c32(c32.data(), cs.n, a16.data(), cs.k, b8.data(), cs.k, cs.m, cs.n, cs.k);
          break;
        case Types::i16_i16:
          impl.i16_i16_c32(c32.data(), cs.n, a16.data(), cs.k, b16.data(), cs.k, cs.m, cs.n, cs.k);
          break;
        case Types::i8_i8: impl.i8_i8_c32(c32.data(), cs.n, a8.data(), cs.k, b8.data(), cs.k, cs.m, cs.n, cs.k); break;
      }
      benchmark::DoNotOptimize(c32.data());
      benchmark::ClobberMemory();
      continue;
    }
    switch (cs.types) {
      case Types::i8_i16: impl.i8_i16(c.data(), cs.n, a8.data(), cs.k, b16.data(), cs.k, cs.m, cs.n, cs.k); break;
      case Types::i16_i8: impl.i16_i8(c.data(), cs.n, a16.data(), cs.k, b8.data(), cs.k, cs.m, cs.n, cs.k); break;
      case Types::i16_i16: impl.i16_i16(c.data(), cs.n, a16.data(), cs.k, b16.data(), cs.k, cs.m, cs.n, cs.k); break;
      case Types::i8_i8: impl.i8_i8(c.data(), cs.n, a8.data(), cs.k, b8.data(), cs.k, cs.m, cs.n, cs.k); break;
    }
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  const double macs = double(state.iterations()) * double(cs.m * cs.n * cs.k);
  state.counters["GOPS"] = benchmark::Counter(2e-9 * macs, benchmark::Counter::kIsRate);
  state.counters["%i8pk"] = benchmark::Counter(100 * macs / g_peak_i8, benchmark::Counter::kIsRate);
  state.counters["%i16pk"] = benchmark::Counter(100 * macs / g_peak_i16, benchmark::Counter::kIsRate);
}

}  // namespace

int main(int argc, char** argv) {
  if (!__builtin_cpu_supports("avx512vnni")) {
    std::fprintf(stderr, "bench_gemm: the peak loops need AVX-512 VNNI\n");
    return 1;
  }
  g_peak_i8 = peak_macs_per_second<true>();
  g_peak_i16 = peak_macs_per_second<false>();
  std::printf("peak per core: int8 vpdpbusd zmm %.0f GOPS, int16 vpdpwssd zmm %.0f GOPS\n", 2e-9 * g_peak_i8,
              2e-9 * g_peak_i16);
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
