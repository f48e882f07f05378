#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "zimt/kernels/gemm.hpp"

using namespace zimt::kernels;

namespace {

template <class T>
std::vector<T> random_vec(int64_t n, std::mt19937_64& rng, int lo, int hi) {
  std::uniform_int_distribution<int> d(lo, hi);
  std::vector<T> v(static_cast<size_t>(n));
  for (auto& x : v) x = static_cast<T>(d(rng));
  return v;
}

// The definition, independent of every implementation.
template <class TA, class TB>
std::vector<int64_t> expected(const std::vector<TA>& a, int64_t lda, const std::vector<TB>& b, int64_t ldb, int64_t m,
                              int64_t n, int64_t k, int64_t ldc) {
  std::vector<int64_t> c(static_cast<size_t>(m * ldc), -7);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      int64_t s = 0;
      for (int64_t t = 0; t < k; ++t)
        s += int64_t{a[static_cast<size_t>(i * lda + t)]} * b[static_cast<size_t>(j * ldb + t)];
      c[static_cast<size_t>(i * ldc + j)] = s;
    }
  return c;
}

// The int32 C of the same products: the exact sum modulo 2^32.
std::vector<int32_t> narrowed(const std::vector<int64_t>& c) {
  std::vector<int32_t> r(c.size());
  for (size_t i = 0; i < c.size(); ++i) r[i] = static_cast<int32_t>(c[i]);
  return r;
}

struct Shape {
  int64_t m, n, k;
};

// Every available implementation against the definition, for all four type
// pairs, with padded strides (C's padding must stay untouched: -7).
void check_all(const Shape& s, int64_t pad, std::mt19937_64& rng, int lo8, int hi8, int lo16, int hi16) {
  const int64_t lda = s.k + pad, ldb = s.k + 2 * pad, ldc = s.n + pad;
  const auto a8 = random_vec<int8_t>(s.m * lda, rng, lo8, hi8);
  const auto b8 = random_vec<int8_t>(s.n * ldb, rng, lo8, hi8);
  const auto a16 = random_vec<int16_t>(s.m * lda, rng, lo16, hi16);
  const auto b16 = random_vec<int16_t>(s.n * ldb, rng, lo16, hi16);
  const auto e_8_16 = expected(a8, lda, b16, ldb, s.m, s.n, s.k, ldc);
  const auto e_16_8 = expected(a16, lda, b8, ldb, s.m, s.n, s.k, ldc);
  const auto e_16_16 = expected(a16, lda, b16, ldb, s.m, s.n, s.k, ldc);
  const auto e_8_8 = expected(a8, lda, b8, ldb, s.m, s.n, s.k, ldc);
  for (const Implementation& impl : implementations()) {
    if (!impl.available()) continue;
    CAPTURE(impl.name);
    CAPTURE(s.m);
    CAPTURE(s.n);
    CAPTURE(s.k);
    CAPTURE(pad);
    std::vector<int64_t> c(static_cast<size_t>(s.m * ldc), -7);
    impl.i8_i16(c.data(), ldc, a8.data(), lda, b16.data(), ldb, s.m, s.n, s.k);
    CHECK(c == e_8_16);
    impl.i16_i8(c.data(), ldc, a16.data(), lda, b8.data(), ldb, s.m, s.n, s.k);
    CHECK(c == e_16_8);
    impl.i16_i16(c.data(), ldc, a16.data(), lda, b16.data(), ldb, s.m, s.n, s.k);
    CHECK(c == e_16_16);
    impl.i8_i8(c.data(), ldc, a8.data(), lda, b8.data(), ldb, s.m, s.n, s.k);
    CHECK(c == e_8_8);
    std::vector<int32_t> c32(static_cast<size_t>(s.m * ldc), -7);
    impl.i8_i16_c32(c32.data(), ldc, a8.data(), lda, b16.data(), ldb, s.m, s.n, s.k);
    CHECK(c32 == narrowed(e_8_16));
    impl.i16_i8_c32(c32.data(), ldc, a16.data(), lda, b8.data(), ldb, s.m, s.n, s.k);
    CHECK(c32 == narrowed(e_16_8));
    impl.i16_i16_c32(c32.data(), ldc, a16.data(), lda, b16.data(), ldb, s.m, s.n, s.k);
    CHECK(c32 == narrowed(e_16_16));
    impl.i8_i8_c32(c32.data(), ldc, a8.data(), lda, b8.data(), ldb, s.m, s.n, s.k);
    CHECK(c32 == narrowed(e_8_8));
  }
}

const std::vector<Shape> kShapes = {
    {1, 1, 1},    {1, 1, 0},      {3, 5, 0},      {1, 7, 33},     {1, 130, 3136},  {2, 9, 64},   {3, 17, 31},
    {4, 1, 1},    {4, 16, 32},    {5, 3, 37},     {6, 64, 2},     {7, 65, 33},     {13, 15, 17}, {32, 9, 784},
    {32, 784, 9}, {64, 196, 288}, {196, 288, 64}, {64, 288, 196}, {12, 100, 1000}, {9, 47, 5},   {6, 16, 4},
    {7, 17, 65},  {25, 70, 131},  {64, 196, 49},  {4, 9, 3},      {5, 8, 1},
};

}  // namespace

TEST_CASE("gemm_nt: every implementation equals the definition on random data, all shapes and strides") {
  std::mt19937_64 rng(12);
  for (const Shape& s : kShapes)
    for (int64_t pad : {0, 3}) check_all(s, pad, rng, -128, 127, -32768, 32767);
}

TEST_CASE("gemm_nt: small int16 values (long flush intervals) and values clamped to +-32767") {
  std::mt19937_64 rng(13);
  for (const Shape& s : {Shape{8, 40, 4099}, Shape{2, 9, 4099}, Shape{64, 196, 288}}) {
    check_all(s, 1, rng, -3, 3, -5, 5);
    check_all(s, 1, rng, -128, 127, -32767, 32767);
  }
}

TEST_CASE("gemm_nt: worst-case extremes (every product at its maximum, same sign) over a long k") {
  for (const Implementation& impl : implementations()) {
    if (!impl.available()) continue;
    CAPTURE(impl.name);
    for (const Shape& s : {Shape{1, 5, 20000 + 13}, Shape{7, 19, 20000 + 13}}) {
      CAPTURE(s.m);
      const std::vector<int8_t> a8(static_cast<size_t>(s.m * s.k), int8_t{-128});
      const std::vector<int8_t> b8(static_cast<size_t>(s.n * s.k), int8_t{-128});
      const std::vector<int16_t> a16(static_cast<size_t>(s.m * s.k), int16_t{-32768});
      const std::vector<int16_t> b16(static_cast<size_t>(s.n * s.k), int16_t{-32768});
      const std::vector<int16_t> b16max(static_cast<size_t>(s.n * s.k), int16_t{-32767});
      std::vector<int64_t> c(static_cast<size_t>(s.m * s.n));
      auto all = [&](int64_t v) {
        for (int64_t x : c)
          if (x != v) return false;
        return true;
      };
      impl.i8_i16(c.data(), s.n, a8.data(), s.k, b16.data(), s.k, s.m, s.n, s.k);
      CHECK(all(s.k * 128 * 32768));
      impl.i16_i8(c.data(), s.n, a16.data(), s.k, b8.data(), s.k, s.m, s.n, s.k);
      CHECK(all(s.k * 128 * 32768));
      impl.i16_i16(c.data(), s.n, a16.data(), s.k, b16.data(), s.k, s.m, s.n, s.k);
      CHECK(all(s.k * 32768 * 32768));
      impl.i16_i16(c.data(), s.n, a16.data(), s.k, b16max.data(), s.k, s.m, s.n, s.k);
      CHECK(all(s.k * 32768 * 32767));
      impl.i8_i8(c.data(), s.n, a8.data(), s.k, b8.data(), s.k, s.m, s.n, s.k);
      CHECK(all(s.k * 128 * 128));
      // int8 x int8 through the +128 offset: a = 127 is the largest packed
      // byte (255), b = -128 the largest negative product.
      const std::vector<int8_t> a8max(static_cast<size_t>(s.m * s.k), int8_t{127});
      impl.i8_i8(c.data(), s.n, a8max.data(), s.k, b8.data(), s.k, s.m, s.n, s.k);
      CHECK(all(-s.k * 127 * 128));
    }
  }
}

TEST_CASE("gemm_nt int8 x int8: the offset sums flush before they leave int32") {
  // 65,792 values of k fill an int32 lane with (127 + 128)·(-128) products
  // to just above -2^31; a longer k must flush on the way.
  for (const Implementation& impl : implementations()) {
    if (!impl.available()) continue;
    CAPTURE(impl.name);
    for (const Shape& s : {Shape{1, 3, 2 * 65792 + 13}, Shape{7, 19, 2 * 65792 + 13}}) {
      CAPTURE(s.m);
      const std::vector<int8_t> a(static_cast<size_t>(s.m * s.k), int8_t{127});
      const std::vector<int8_t> b(static_cast<size_t>(s.n * s.k), int8_t{-128});
      std::vector<int64_t> c(static_cast<size_t>(s.m * s.n));
      impl.i8_i8(c.data(), s.n, a.data(), s.k, b.data(), s.k, s.m, s.n, s.k);
      CHECK(c == std::vector<int64_t>(c.size(), -s.k * 127 * 128));
    }
  }
}

TEST_CASE("gemm_nt with int32 C: exact where sum_fits_int32, the sum modulo 2^32 beyond") {
  CHECK(sum_fits_int32(65535, 128, 256));   // 2^31 - 2^15
  CHECK(!sum_fits_int32(65536, 128, 256));  // 2^31
  CHECK(sum_fits_int32(0, 32768, 32768));
  CHECK(!sum_fits_int32(2, 32768, 32768));
  for (const Implementation& impl : implementations()) {
    if (!impl.available()) continue;
    CAPTURE(impl.name);
    for (const Shape& s : {Shape{1, 5, 2001}, Shape{7, 19, 2001}, Shape{13, 40, 131071}}) {
      CAPTURE(s.m);
      CAPTURE(s.k);
      // int8 x int8 at the bound (-128·-128 over 131,071: 2^31 - 2^14) and
      // int16 x int16 far past it (wraps modulo 2^32).
      const std::vector<int8_t> a8(static_cast<size_t>(s.m * s.k), int8_t{-128});
      const std::vector<int8_t> b8(static_cast<size_t>(s.n * s.k), int8_t{-128});
      const std::vector<int16_t> a16(static_cast<size_t>(s.m * s.k), int16_t{-32768});
      const std::vector<int16_t> b16(static_cast<size_t>(s.n * s.k), int16_t{-32767});
      std::vector<int32_t> c(static_cast<size_t>(s.m * s.n));
      impl.i8_i8_c32(c.data(), s.n, a8.data(), s.k, b8.data(), s.k, s.m, s.n, s.k);
      CHECK(c == std::vector<int32_t>(c.size(), static_cast<int32_t>(s.k * 128 * 128)));
      impl.i16_i16_c32(c.data(), s.n, a16.data(), s.k, b16.data(), s.k, s.m, s.n, s.k);
      CHECK(c == std::vector<int32_t>(c.size(), static_cast<int32_t>(s.k * 32768 * 32767)));
      impl.i8_i16_c32(c.data(), s.n, a8.data(), s.k, b16.data(), s.k, s.m, s.n, s.k);
      CHECK(c == std::vector<int32_t>(c.size(), static_cast<int32_t>(s.k * 128 * 32767)));
    }
  }
  std::mt19937_64 rng(15);
  const Shape s{9, 70, 45};
  const auto a = random_vec<int16_t>(s.m * s.k, rng, -32768, 32767);
  const auto b = random_vec<int8_t>(s.n * s.k, rng, -128, 127);
  std::vector<int32_t> c(static_cast<size_t>(s.m * s.n));
  gemm_nt(c.data(), s.n, a.data(), s.k, b.data(), s.k, s.m, s.n, s.k);
  CHECK(c == narrowed(expected(a, s.k, b, s.k, s.m, s.n, s.k, s.n)));
}

TEST_CASE("gemm_nt dispatches every operand pair to an available implementation and agrees with it") {
  MESSAGE("kernels in use: " << std::string(kernel_name()));
  std::mt19937_64 rng(14);
  const int64_t k = 301;
  const auto a8 = random_vec<int8_t>(k, rng, -128, 127);
  const auto a16 = random_vec<int16_t>(k, rng, -32768, 32767);
  const auto b16 = random_vec<int16_t>(k, rng, -32768, 32767);
  int64_t c1 = 0;  // one row by one column: the single dot product the layers' small GEMMs reduce to
  gemm_nt(&c1, 1, a8.data(), k, b16.data(), k, 1, 1, k);
  CHECK(c1 == expected(a8, k, b16, k, 1, 1, k, 1)[0]);
  gemm_nt(&c1, 1, a16.data(), k, b16.data(), k, 1, 1, k);
  CHECK(c1 == expected(a16, k, b16, k, 1, 1, k, 1)[0]);
  const auto b8 = random_vec<int8_t>(k, rng, -128, 127);
  gemm_nt(&c1, 1, a8.data(), k, b8.data(), k, 1, 1, k);
  CHECK(c1 == expected(a8, k, b8, k, 1, 1, k, 1)[0]);
  const Shape s{9, 70, 45};
  const auto a = random_vec<int16_t>(s.m * s.k, rng, -32768, 32767);
  const auto b = random_vec<int8_t>(s.n * s.k, rng, -128, 127);
  std::vector<int64_t> c(static_cast<size_t>(s.m * s.n));
  gemm_nt(c.data(), s.n, a.data(), s.k, b.data(), s.k, s.m, s.n, s.k);
  CHECK(c == expected(a, s.k, b, s.k, s.m, s.n, s.k, s.n));
  bool found = false;
  for (const Implementation& impl : implementations()) found = found || std::string_view(impl.name) == kernel_name();
  CHECK(found);
}

// Ways to cut k into segments: one segment on each shift, and cuts at
// even positions (empty segments included) with shifts up to kMaxGemmShift.
std::vector<std::vector<KSegment>> segmentations(int64_t k, std::mt19937_64& rng) {
  std::vector<std::vector<KSegment>> all;
  for (int shift : {0, 1, 9, 33, kMaxGemmShift}) all.push_back({{k, shift}});
  std::uniform_int_distribution<int> shift(0, kMaxGemmShift);
  for (int cuts : {1, 2, 5}) {
    std::uniform_int_distribution<int64_t> at(0, k / 2);
    std::vector<int64_t> ends;
    for (int i = 0; i < cuts; ++i) ends.push_back(2 * at(rng));
    std::sort(ends.begin(), ends.end());
    std::vector<KSegment> segments;
    for (int64_t end : ends) segments.push_back({end, shift(rng)});
    segments.push_back({k, shift(rng)});
    all.push_back(segments);
  }
  all.push_back({{0, 5}, {0, 7}, {k, 2}});                // leading empty segments
  if (k >= 4) all.push_back({{2, 48}, {4, 0}, {k, 48}});  // one pair, then the rest
  return all;
}

TEST_CASE(
    "gemm_nt_segmented: Σ 2^shift·A·Bᵀ over k's segments, stored or added, on every implementation, modulo 2^64") {
  std::mt19937_64 rng(16);
  // Shapes through the dot-product path (m < 4), the micro-tiles, odd k and
  // flushes; int16 B at full range splits into bytes (the high bytes' flush
  // shifted by 8 more).
  for (const Shape& s : {Shape{1, 7, 33}, Shape{3, 5, 130}, Shape{7, 65, 33}, Shape{13, 70, 4099}, Shape{64, 196, 64}})
    for (const std::vector<KSegment>& segments : segmentations(s.k, rng)) {
      const int64_t lda = s.k + 1, ldb = s.k + 2, ldc = s.n + 3;
      const auto a = random_vec<int16_t>(s.m * lda, rng, -32768, 32767);
      const auto b8 = random_vec<int8_t>(s.n * ldb, rng, -128, 127);
      const auto b16 = random_vec<int16_t>(s.n * ldb, rng, -32768, 32767);
      const auto before = random_vec<int64_t>(s.m * ldc, rng, -1000000, 1000000);
      // The definition in wrapping uint64 arithmetic; C's padding untouched.
      auto want = [&](const auto& b, bool accumulate) {
        std::vector<int64_t> c = before;
        for (int64_t i = 0; i < s.m; ++i)
          for (int64_t j = 0; j < s.n; ++j) {
            const auto at = static_cast<size_t>(i * ldc + j);
            uint64_t total = accumulate ? static_cast<uint64_t>(before[at]) : 0;
            int64_t t = 0;
            for (const KSegment& segment : segments) {
              int64_t sum = 0;
              for (; t < segment.end; ++t)
                sum += int64_t{a[static_cast<size_t>(i * lda + t)]} * b[static_cast<size_t>(j * ldb + t)];
              total += static_cast<uint64_t>(sum) << segment.shift;
            }
            c[at] = static_cast<int64_t>(total);
          }
        return c;
      };
      for (const Implementation& impl : implementations()) {
        if (!impl.available()) continue;
        for (bool accumulate : {false, true}) {
          CAPTURE(impl.name);
          CAPTURE(s.m);
          CAPTURE(s.n);
          CAPTURE(s.k);
          CAPTURE(segments.size());
          CAPTURE(segments.front().end);
          CAPTURE(segments.front().shift);
          CAPTURE(accumulate);
          std::vector<int64_t> c = before;
          impl.i16_i8_segmented(c.data(), ldc, a.data(), lda, b8.data(), ldb, s.m, s.n, s.k, segments, accumulate);
          CHECK(c == want(b8, accumulate));
          c = before;
          impl.i16_i16_segmented(c.data(), ldc, a.data(), lda, b16.data(), ldb, s.m, s.n, s.k, segments, accumulate);
          CHECK(c == want(b16, accumulate));
        }
      }
    }
  // All-zero A: every product is 0, so the lanes never need a flush (no
  // bound); several segments still store zeros or leave C as it was.
  for (const Implementation& impl : implementations()) {
    if (!impl.available()) continue;
    const std::vector<int16_t> a(static_cast<size_t>(64 * 40)), b(static_cast<size_t>(70 * 40), 7);
    const std::vector<KSegment> segments{{10, 3}, {18, 0}, {40, 48}};
    std::vector<int64_t> c(static_cast<size_t>(64 * 70), 5);
    impl.i16_i16_segmented(c.data(), 70, a.data(), 40, b.data(), 40, 64, 70, 40, segments, true);
    CHECK(c == std::vector<int64_t>(c.size(), 5));
    impl.i16_i16_segmented(c.data(), 70, a.data(), 40, b.data(), 40, 64, 70, 40, segments, false);
    CHECK(c == std::vector<int64_t>(c.size(), 0));
  }
  // k = 0: a product of 0, so storing clears and accumulating leaves C.
  for (const Implementation& impl : implementations()) {
    if (!impl.available()) continue;
    const std::vector<int16_t> a(8), b(8);
    const KSegment none{0, 4};
    std::vector<int64_t> c(6, 5);
    impl.i16_i16_segmented(c.data(), 3, a.data(), 1, b.data(), 1, 2, 3, 0, {&none, 1}, true);
    CHECK(c == std::vector<int64_t>(6, 5));
    impl.i16_i16_segmented(c.data(), 3, a.data(), 1, b.data(), 1, 2, 3, 0, {&none, 1}, false);
    CHECK(c == std::vector<int64_t>(6, 0));
  }
}

TEST_CASE("gemm_rows: B read as rows at offsets equals the definition on every implementation, int64 and int32 C") {
  std::mt19937_64 rng(17);
  // Offsets as a 3x3 convolution's taps on a padded 16-wide image, and
  // random ones (overlapping, in any order); B ends where the last row does,
  // so reading past a row's n values would leave the array.
  struct Case {
    int64_t m, n, k;
    bool conv;
  };
  for (const Case& s : {Case{64, 222, 288, true}, Case{32, 222, 576, true}, Case{1, 1, 1, false}, Case{3, 17, 9, false},
                        Case{7, 65, 33, false}, Case{13, 70, 131, false}, Case{6, 16, 2, false}, Case{5, 100, 0, false},
                        Case{9, 47, 4099, false}}) {
    std::vector<int64_t> rows(static_cast<size_t>(s.k));
    if (s.conv) {
      for (int64_t t = 0; t < s.k; ++t) rows[static_cast<size_t>(t)] = t / 9 * 256 + t % 9 / 3 * 16 + t % 3;
    } else {
      std::uniform_int_distribution<int64_t> at(0, 3 * s.n);
      for (auto& r : rows) r = at(rng);
    }
    const int64_t size = (s.k == 0 ? 0 : *std::max_element(rows.begin(), rows.end())) + s.n;
    for (int range : {5, 32767}) {
      const auto b = random_vec<int16_t>(size, rng, range == 5 ? -5 : -32768, range);
      const int64_t lda = s.k + 1, ldc = s.n + 2;
      const auto a8 = random_vec<int8_t>(s.m * lda, rng, -128, 127);
      const auto a16 = random_vec<int16_t>(s.m * lda, rng, -32768, 32767);
      auto want = [&](const auto& a) {
        std::vector<int64_t> c(static_cast<size_t>(s.m * ldc), -7);
        for (int64_t i = 0; i < s.m; ++i)
          for (int64_t j = 0; j < s.n; ++j) {
            int64_t sum = 0;
            for (int64_t t = 0; t < s.k; ++t)
              sum += int64_t{a[static_cast<size_t>(i * lda + t)]} *
                     b[static_cast<size_t>(rows[static_cast<size_t>(t)] + j)];
            c[static_cast<size_t>(i * ldc + j)] = sum;
          }
        return c;
      };
      const auto e8 = want(a8), e16 = want(a16);
      for (const Implementation& impl : implementations()) {
        if (!impl.available()) continue;
        CAPTURE(impl.name);
        CAPTURE(s.m);
        CAPTURE(s.n);
        CAPTURE(s.k);
        CAPTURE(range);
        std::vector<int64_t> c(static_cast<size_t>(s.m * ldc), -7);
        impl.i8_rows(c.data(), ldc, a8.data(), lda, b.data(), rows.data(), s.m, s.n, s.k);
        CHECK(c == e8);
        impl.i16_rows(c.data(), ldc, a16.data(), lda, b.data(), rows.data(), s.m, s.n, s.k);
        CHECK(c == e16);
        std::vector<int32_t> c32(static_cast<size_t>(s.m * ldc), -7);
        impl.i8_rows_c32(c32.data(), ldc, a8.data(), lda, b.data(), rows.data(), s.m, s.n, s.k);
        CHECK(c32 == narrowed(e8));
        impl.i16_rows_c32(c32.data(), ldc, a16.data(), lda, b.data(), rows.data(), s.m, s.n, s.k);
        CHECK(c32 == narrowed(e16));
      }
    }
  }
  // Every product at its extreme, same sign: int64 C splits B into bytes.
  const int64_t m = 7, n = 19, k = 20013;
  std::vector<int64_t> rows(static_cast<size_t>(k));
  for (int64_t t = 0; t < k; ++t) rows[static_cast<size_t>(t)] = t % 5;
  const std::vector<int16_t> b(static_cast<size_t>(n + 4), int16_t{-32768});
  const std::vector<int16_t> a(static_cast<size_t>(m * k), int16_t{-32768});
  std::vector<int64_t> c(static_cast<size_t>(m * n));
  gemm_rows(c.data(), n, a.data(), k, b.data(), rows.data(), m, n, k);
  CHECK(c == std::vector<int64_t>(c.size(), k * 32768 * 32768));
}
