// The plain 2x2 max pool's row kernels (max_2x2.hpp): every implementation
// the CPU runs gives the scalar reference's bits, on random rows, rows full
// of ties (all equal, two or three equal maxima at every position in the
// window) and the extremes of int8 and int16, for window counts around the
// vector width (tails of every length), one and three row pairs, rows with an odd last
// column (in no window: left as it was), with and without the ReLU mask.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "zimt/layers/max_2x2.hpp"

using namespace zimt;

namespace {

// `size` values drawn by `kind`: 0 random over the type, 1 all equal, 2
// three values (many ties), 3 the two extremes.
template <class X>
std::vector<X> make_rows(int64_t size, int kind, std::mt19937_64& rng) {
  const int lo = sizeof(X) == 1 ? -127 : -32767, hi = -lo;
  std::vector<X> rows(static_cast<size_t>(size));
  std::uniform_int_distribution<int> any(lo, hi), few(-1, 1), ends(0, 1);
  for (auto& v : rows) {
    switch (kind) {
      case 0: v = static_cast<X>(any(rng)); break;
      case 1: v = static_cast<X>(lo); break;
      case 2: v = static_cast<X>(few(rng)); break;
      default: v = static_cast<X>(ends(rng) != 0 ? hi : lo); break;
    }
  }
  return rows;
}

template <class X>
void check_rows(const max_2x2::RowKernels& impl) {
  const max_2x2::RowKernels& ref = max_2x2::detail::scalar_row_kernels;
  std::mt19937_64 rng(7);
  for (int64_t count : {1, 2, 7, 15, 16, 17, 31, 32, 33, 50})
    for (int64_t odd : {0, 1})  // an odd last column, in no window
      for (int64_t pairs : {1, 3})
        for (int kind = 0; kind < 4; ++kind) {
          CAPTURE(count);
          CAPTURE(odd);
          CAPTURE(pairs);
          CAPTURE(kind);
          const int64_t width = 2 * count + odd, windows = pairs * count;
          const std::vector<X> x = make_rows<X>(2 * pairs * width, kind, rng);
          std::vector<int16_t> dy(static_cast<size_t>(windows));
          std::uniform_int_distribution<int> err(-32767, 32767);
          for (auto& v : dy) v = static_cast<int16_t>(err(rng));
          // Outputs start with different garbage: every element must be
          // written; an odd last column keeps its own.
          std::vector<X> y(static_cast<size_t>(windows), X{5}), y_ref(static_cast<size_t>(windows), X{-5});
          for (bool positive_only : {false, true}) {
            CAPTURE(positive_only);
            std::vector<int16_t> dx(x.size(), 9), dx_ref(x.size(), -9);
            if constexpr (sizeof(X) == 1) {
              impl.forward_i8(y.data(), x.data(), width, pairs);
              ref.forward_i8(y_ref.data(), x.data(), width, pairs);
              impl.backward_i8(dx.data(), dy.data(), x.data(), width, pairs, positive_only);
              ref.backward_i8(dx_ref.data(), dy.data(), x.data(), width, pairs, positive_only);
            } else {
              impl.forward_i16(y.data(), x.data(), width, pairs);
              ref.forward_i16(y_ref.data(), x.data(), width, pairs);
              impl.backward_i16(dx.data(), dy.data(), x.data(), width, pairs, positive_only);
              ref.backward_i16(dx_ref.data(), dy.data(), x.data(), width, pairs, positive_only);
            }
            CHECK(y == y_ref);
            for (size_t i = 0; i < dx.size(); ++i) {
              const bool in_window = static_cast<int64_t>(i) % width < 2 * count;
              if (!in_window) {
                CHECK(dx[i] == 9);
                CHECK(dx_ref[i] == -9);
              } else if (dx[i] != dx_ref[i]) {
                CHECK(dx[i] == dx_ref[i]);
              }
            }
          }
        }
}

}  // namespace

TEST_CASE("max 2x2 rows: the scalar reference routes dy to the first maximum in (kh, kw) order") {
  const max_2x2::RowKernels& ref = max_2x2::detail::scalar_row_kernels;
  // One window per case: (a, b / c, d) -> the position that receives dy.
  struct Case {
    int16_t a, b, c, d;
    int first;
  };
  for (const Case& k : {Case{1, 1, 1, 1, 0}, Case{0, 1, 1, 1, 1}, Case{0, 0, 1, 1, 2}, Case{0, 0, 0, 1, 3},
                        Case{-32767, -32767, -32767, -32767, 0}, Case{2, 1, 2, 2, 0}, Case{1, 3, 3, 3, 1},
                        Case{0, 0, 0, 0, 0}, Case{-3, 0, -1, 0, 1}}) {
    const int16_t x[4] = {k.a, k.b, k.c, k.d}, dy[1] = {-77};  // one row pair of width 2
    const int16_t max = std::max(std::max(k.a, k.b), std::max(k.c, k.d));
    for (bool positive_only : {false, true}) {
      int16_t y[1] = {0}, got[4] = {5, 5, 5, 5};
      ref.forward_i16(y, x, 2, 1);
      ref.backward_i16(got, dy, x, 2, 1, positive_only);
      // positive_only: only a window whose maximum is > 0 passes dy.
      const bool pass = !positive_only || max > 0;
      for (int p = 0; p < 4; ++p) CHECK(got[p] == (pass && p == k.first ? -77 : 0));
      CHECK(y[0] == max);
    }
  }
}

TEST_CASE("max 2x2 rows: every implementation gives the scalar bits, int8 and int16") {
  for (const max_2x2::RowKernels& impl : max_2x2::row_kernels()) {
    if (!impl.available()) continue;
    CAPTURE(std::string(impl.name));
    check_rows<int8_t>(impl);
    check_rows<int16_t>(impl);
  }
}
