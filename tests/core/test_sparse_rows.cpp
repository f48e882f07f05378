// The sparse row products (sparse_rows.hpp): the scalar
// reference against the definition, and every kernel the CPU runs against
// the scalar reference, bit for bit, for row lengths around the vector
// width, densities from none to all (rows with more than 2·127 nonzero
// entries: the int32 lanes' flush), odd counts, the int16 extremes, and
// shifts from 0 to 40 added onto a sum that is not 0.
#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "zimt/layers/sparse_rows.hpp"

using namespace zimt;

namespace {

// a (m,P) with about `per_mille`/1000 nonzero entries, rows (P,K); kind 0
// random values, 1 the extremes, 2 a at +32767 and rows at -32768 (every
// product at its largest, of one sign: the lanes' bound).
struct Operands {
  std::vector<int16_t> a, rows;
};
Operands make(int64_t m, int64_t P, int64_t K, int per_mille, int kind, std::mt19937_64& rng) {
  std::uniform_int_distribution<int> any(-32768, 32767), coin(0, 1), mille(0, 999);
  auto value = [&]() { return static_cast<int16_t>(kind == 0 ? any(rng) : (coin(rng) != 0 ? 32767 : -32768)); };
  Operands o{std::vector<int16_t>(static_cast<size_t>(m * P)), std::vector<int16_t>(static_cast<size_t>(P * K))};
  for (auto& v : o.a) v = mille(rng) < per_mille ? (kind == 2 ? int16_t{32767} : value()) : int16_t{0};
  for (auto& v : o.rows) v = kind == 2 ? int16_t{-32768} : value();
  return o;
}

}  // namespace

TEST_CASE("sparse rows: the scalar reference adds 2^shift · a · rows in int64") {
  std::mt19937_64 rng(3);
  const int64_t m = 3, P = 9, K = 5;
  const Operands o = make(m, P, K, 400, 0, rng);
  for (const int shift : {0, 7}) {
    std::vector<int64_t> s(static_cast<size_t>(m * K), 7);
    std::vector<int32_t> list(static_cast<size_t>(sparse_rows::list_size(P)));
    sparse_rows::detail::scalar_kernels.add_sums(s.data(), o.a.data(), m, P, o.rows.data(), K, list.data(), shift);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t kk = 0; kk < K; ++kk) {
        int64_t want = 0;
        for (int64_t p = 0; p < P; ++p)
          want += int64_t{o.a[static_cast<size_t>(i * P + p)]} * o.rows[static_cast<size_t>(p * K + kk)];
        CHECK(s[static_cast<size_t>(i * K + kk)] == 7 + want * (int64_t{1} << shift));
      }
  }
}

TEST_CASE("sparse rows: every kernel the CPU runs returns the scalar reference's sums") {
  std::mt19937_64 rng(9);
  std::uniform_int_distribution<int64_t> start(-(int64_t{1} << 50), int64_t{1} << 50);
  for (const sparse_rows::Kernels& impl : sparse_rows::kernels()) {
    if (!impl.available()) continue;
    CAPTURE(impl.name);
    for (const int64_t K : {1, 31, 32, 33, 95, 96, 97, 288})
      for (const int64_t P : {1, 7, 16, 17, 33, 196, 300})
        for (const int per_mille : {0, 250, 1000})
          for (int kind = 0; kind < 3; ++kind) {
            const int shift = static_cast<int>((K + P + kind) % 41);
            CAPTURE(K);
            CAPTURE(P);
            CAPTURE(per_mille);
            CAPTURE(kind);
            CAPTURE(shift);
            const int64_t m = 3;
            const Operands o = make(m, P, K, per_mille, kind, rng);
            std::vector<int64_t> s(static_cast<size_t>(m * K));
            for (auto& v : s) v = start(rng);
            std::vector<int64_t> s_ref = s;
            std::vector<int32_t> list(static_cast<size_t>(sparse_rows::list_size(P)), -1);
            impl.add_sums(s.data(), o.a.data(), m, P, o.rows.data(), K, list.data(), shift);
            sparse_rows::detail::scalar_kernels.add_sums(s_ref.data(), o.a.data(), m, P, o.rows.data(), K, list.data(),
                                                         shift);
            CHECK(s == s_ref);
          }
  }
}
