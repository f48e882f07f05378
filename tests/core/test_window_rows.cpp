// The general max pool's window-row kernels (window_rows.hpp): the scalar
// reference picks the first maximum in (row, column) order, and every
// implementation the CPU runs gives its bits on random rows, rows full of
// ties and the extremes of int8 and int16, for widths and window counts
// around the vector width (the vector kernels take rows up to 32 wide and
// pass wider ones on), kernels 1 to 5, strides 1 to 3 and every padding up
// to kernel / 2.
#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "zimt/layers/window_rows.hpp"

using namespace zimt;

namespace {

// rows·W values drawn by `kind`: 0 random over the type, 1 all equal to the
// type's minimum, 2 three values (many ties), 3 the two extremes.
template <class X>
std::vector<X> make_rows(int64_t count, int kind, std::mt19937_64& rng) {
  const int lo = sizeof(X) == 1 ? -128 : -32768, hi = sizeof(X) == 1 ? 127 : 32767;
  std::vector<X> x(static_cast<size_t>(count));
  std::uniform_int_distribution<int> any(lo, hi), few(-1, 1), ends(0, 1);
  for (auto& v : x) {
    switch (kind) {
      case 0: v = static_cast<X>(any(rng)); break;
      case 1: v = static_cast<X>(lo); break;
      case 2: v = static_cast<X>(few(rng)); break;
      default: v = static_cast<X>(ends(rng) != 0 ? hi : lo); break;
    }
  }
  return x;
}

template <class X>
void check_rows(const window_rows::RowKernels& impl) {
  const window_rows::RowKernels& ref = window_rows::detail::scalar_row_kernels;
  std::mt19937_64 rng(11);
  for (int64_t W : {1, 2, 5, 14, 31, 32, 33, 40})
    for (int64_t kernel = 1; kernel <= 5; ++kernel)
      for (int64_t stride = 1; stride <= 3; ++stride)
        for (int64_t padding = 0; 2 * padding <= kernel; ++padding) {
          if (W + 2 * padding < kernel) continue;
          const window_rows::Columns c{W, (W + 2 * padding - kernel) / stride + 1, kernel, stride, padding};
          for (int64_t rows = 1; rows <= 3; ++rows)
            for (int kind = 0; kind < 4; ++kind) {
              CAPTURE(W);
              CAPTURE(kernel);
              CAPTURE(stride);
              CAPTURE(padding);
              CAPTURE(rows);
              CAPTURE(kind);
              const std::vector<X> x = make_rows<X>(rows * W, kind, rng);
              // Outputs start with different garbage: every element must be written,
              // and nothing past OW.
              const auto n = static_cast<size_t>(c.OW) + 3;
              std::vector<X> y(n, X{5}), y_ref(n, X{5});
              std::vector<int32_t> at(n, -7), at_ref(n, -7);
              if constexpr (sizeof(X) == 1) {
                impl.max_i8(y.data(), x.data(), rows, c);
                ref.max_i8(y_ref.data(), x.data(), rows, c);
                impl.first_max_i8(at.data(), x.data(), rows, c);
                ref.first_max_i8(at_ref.data(), x.data(), rows, c);
              } else {
                impl.max_i16(y.data(), x.data(), rows, c);
                ref.max_i16(y_ref.data(), x.data(), rows, c);
                impl.first_max_i16(at.data(), x.data(), rows, c);
                ref.first_max_i16(at_ref.data(), x.data(), rows, c);
              }
              CHECK(y == y_ref);
              CHECK(at == at_ref);
            }
        }
}

}  // namespace

TEST_CASE("window rows: the scalar reference takes the first maximum in (row, column) order") {
  const window_rows::RowKernels& ref = window_rows::detail::scalar_row_kernels;
  // Two rows of 5, kernel 3, stride 2, padding 1: windows of columns {0, 1},
  // {1, 2, 3} and {3, 4}.
  const window_rows::Columns c{5, 3, 3, 2, 1};
  const int16_t x[10] = {4, 9, 9, 1, 1,  //
                         9, 9, 9, 7, 1};
  int32_t at[3] = {-1, -1, -1};
  int16_t y[3] = {0, 0, 0};
  ref.first_max_i16(at, x, 2, c);
  ref.max_i16(y, x, 2, c);
  // {4, 9 / 9, 9}: column 1 of row 0; {9, 9, 1 / 9, 9, 7}: column 1 of row 0
  // (before column 2 and row 1); {1, 1 / 7, 1}: column 3 of row 1.
  CHECK(at[0] == 1);
  CHECK(at[1] == 1);
  CHECK(at[2] == 5 + 3);
  CHECK(y[0] == 9);
  CHECK(y[1] == 9);
  CHECK(y[2] == 7);
}

TEST_CASE("window rows: every implementation gives the scalar bits, int8 and int16") {
  for (const window_rows::RowKernels& impl : window_rows::row_kernels()) {
    if (!impl.available()) continue;
    CAPTURE(std::string(impl.name));
    check_rows<int8_t>(impl);
    check_rows<int16_t>(impl);
  }
}
