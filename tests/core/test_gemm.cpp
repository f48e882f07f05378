#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "zimt/kernels/gemm.hpp"

using namespace zimt::kernels;

namespace {
template <class T>
std::vector<T> random_vec(size_t n, std::mt19937_64& rng, int lo, int hi) {
  std::uniform_int_distribution<int> d(lo, hi);
  std::vector<T> v(n);
  for (auto& x : v) x = static_cast<T>(d(rng));
  return v;
}
}  // namespace

TEST_CASE("dot: scalar and AVX2 agree exactly on random and extreme data, all lengths") {
  if (!avx2::available()) {
    MESSAGE("no AVX2 on this CPU: only the scalar kernel runs");
    return;
  }
  std::mt19937_64 rng(11);
  for (int64_t k : {0, 1, 7, 8, 15, 16, 17, 31, 100, 2047, 2048, 2049, 5000}) {
    const auto a8 = random_vec<int8_t>(static_cast<size_t>(k), rng, -128, 127);
    const auto a16 = random_vec<int16_t>(static_cast<size_t>(k), rng, -32768, 32767);
    const auto b16 = random_vec<int16_t>(static_cast<size_t>(k), rng, -32768, 32767);
    CHECK(avx2::dot(a8.data(), b16.data(), k) == scalar::dot(a8.data(), b16.data(), k));
    CHECK(avx2::dot(a16.data(), b16.data(), k) == scalar::dot(a16.data(), b16.data(), k));
  }
  // Worst case for the int32 lanes: every product at its maximum, same sign.
  const int64_t k = 4096 + 13;
  const std::vector<int8_t> amin(static_cast<size_t>(k), int8_t{-128});
  const std::vector<int16_t> bmin(static_cast<size_t>(k), int16_t{-32768});
  CHECK(avx2::dot(amin.data(), bmin.data(), k) == k * 128 * 32768);
  CHECK(avx2::dot(bmin.data(), bmin.data(), k) == k * 32768 * 32768);
  CHECK(scalar::dot(bmin.data(), bmin.data(), k) == k * 32768 * 32768);
}

TEST_CASE("gemm_nt: C = A·Bᵀ for every operand type pair, with row strides") {
  std::mt19937_64 rng(12);
  const int64_t m = 5, n = 3, k = 37, lda = 40, ldb = 41, ldc = 4;
  const auto a8 = random_vec<int8_t>(static_cast<size_t>(m * lda), rng, -127, 127);
  const auto a16 = random_vec<int16_t>(static_cast<size_t>(m * lda), rng, -32767, 32767);
  const auto b8 = random_vec<int8_t>(static_cast<size_t>(n * ldb), rng, -127, 127);
  const auto b16 = random_vec<int16_t>(static_cast<size_t>(n * ldb), rng, -32767, 32767);
  std::vector<int64_t> c(static_cast<size_t>(m * ldc));
  auto expect = [&](auto* a, auto* b) {
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        int64_t s = 0;
        for (int64_t t = 0; t < k; ++t) s += int64_t{a[i * lda + t]} * b[j * ldb + t];
        CHECK(c[static_cast<size_t>(i * ldc + j)] == s);
      }
  };
  gemm_nt(c.data(), ldc, a8.data(), lda, b16.data(), ldb, m, n, k);
  expect(a8.data(), b16.data());
  gemm_nt(c.data(), ldc, a16.data(), lda, b8.data(), ldb, m, n, k);
  expect(a16.data(), b8.data());
  gemm_nt(c.data(), ldc, a16.data(), lda, b16.data(), ldb, m, n, k);
  expect(a16.data(), b16.data());
  MESSAGE("kernels in use: " << kernel_name());
}
