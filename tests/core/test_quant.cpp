#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "zimt/quant.hpp"

using namespace zimt;

TEST_CASE("requantize: smallest shift, round-half-even, exact zeros, no sign change") {
  std::vector<int64_t> acc{0, 255, -255, 1, -1, 128, 384};
  std::vector<int8_t> q(acc.size());
  // max 384 needs s = 2: 384/4 = 96; 255/4 = 63.75 -> 64; ±1/4 -> 0, kept
  // at ±1 (the sign is never changed); 128/4 = 32.
  CHECK(requantize_i8(acc.data(), 7, -5, q.data()) == -3);
  CHECK(q == std::vector<int8_t>{0, 64, -64, 1, -1, 32, 96});

  // 255 alone: s = 1 gives 127.5 -> 128 (even), too big, so s = 2.
  std::vector<int64_t> a2{255, 254, 2};
  std::vector<int8_t> q2(3);
  CHECK(requantize_i8(a2.data(), 3, 0, q2.data()) == 2);
  CHECK(q2 == std::vector<int8_t>{64, 64, 1});  // 63.75 -> 64, 63.5 -> 64 (even), 0.5 -> 0 (even) kept at 1

  // Values that fit are copied exactly (no left shift).
  std::vector<int64_t> a3{-127, 3, 0};
  std::vector<int8_t> q3(3);
  CHECK(requantize_i8(a3.data(), 3, 7, q3.data()) == 7);
  CHECK(q3 == std::vector<int8_t>{-127, 3, 0});

  // Error signals too keep small nonzero values at ±1 instead of 0.
  std::vector<int64_t> e16{1 << 20, 3, -3, 0, 1 << 4, -(1 << 4)};
  std::vector<int16_t> q16(6);
  CHECK(requantize_i16(e16.data(), 6, 0, q16.data()) == 6);
  CHECK(q16 == std::vector<int16_t>{16384, 1, -1, 0, 1, -1});  // 2^4/2^6 = 0.25 -> kept at 1

  std::vector<int64_t> zeros(5, 0);
  std::vector<int16_t> z16(5, 9);
  CHECK(requantize_i16(zeros.data(), 5, -4, z16.data()) == -4);
  for (auto v : z16) CHECK(v == 0);
}

TEST_CASE("requantize_i16 (error signals): within the bound, never flushed, maximum uses the range") {
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    std::uniform_int_distribution<int64_t> d(-(int64_t{1} << (trial % 60)), int64_t{1} << (trial % 60));
    std::vector<int64_t> acc(37);
    for (auto& a : acc) a = d(rng);
    std::vector<int16_t> q(acc.size());
    const int32_t e = requantize_i16(acc.data(), 37, 0, q.data());
    int max_q = 0;
    for (size_t i = 0; i < acc.size(); ++i) {
      const i128 back = static_cast<i128>(q[i]) << e;
      const i128 diff = back - acc[i];
      const i128 abs_diff = diff < 0 ? -diff : diff, step = static_cast<i128>(1) << e;
      const i128 abs_acc = acc[i] < 0 ? -static_cast<i128>(acc[i]) : acc[i];
      // max(step/2, step - |acc|): half a step, or one step for a kept ±1
      CHECK((2 * abs_diff <= step || abs_diff <= step - abs_acc));
      CHECK((q[i] == 0) == (acc[i] == 0));  // never flushed, zeros exact
      if (acc[i] != 0) CHECK((q[i] > 0) == (acc[i] > 0));
      max_q = std::max(max_q, std::abs(int{q[i]}));
    }
    // Minimal shift: with one bit less the maximum would not fit.
    if (e > 0) CHECK(max_q >= 16384);
  }
}

TEST_CASE("align_batch: exact left shifts normally, bounded when exponents spread") {
  const std::vector<int32_t> e{-10, -7, -12};
  const BatchAlignment a = align_batch(e.data(), 3, 23);
  CHECK(a.exp == -12);
  CHECK(a.shift == std::vector<int32_t>{2, 5, 0});

  // Spread of 100 with 23-bit terms over 3 samples: max shift 62 - 23 - 2 = 37.
  const std::vector<int32_t> wide{0, 100, 50};
  const BatchAlignment w = align_batch(wide.data(), 3, 23);
  CHECK(w.exp == 63);
  CHECK(w.shift == std::vector<int32_t>{-63, 37, -13});
  CHECK(apply_shift((int64_t{1} << 22) - 1, 37) == ((int64_t{1} << 22) - 1) * (int64_t{1} << 37));
  CHECK(apply_shift(3, -1) == 2);    // 1.5 -> 2 (even)
  CHECK(apply_shift(-5, -1) == -2);  // -2.5 -> -2 (even)
}

TEST_CASE("common_exponent: the smaller exponent unless a shift would overflow") {
  CHECK(common_exponent(-5, 30, 0, 8) == -5);
  CHECK(common_exponent(0, 8, -5, 30) == -5);
  // b at 2^100 with 8 bits: shifting it down to -5 would need 113 bits.
  CHECK(common_exponent(-5, 30, 100, 8) == 100 + 8 - 61);
}

TEST_CASE("requantize on int32 accumulators gives the int64 versions' bits") {
  std::mt19937_64 rng(17);
  const int32_t extremes[] = {INT32_MIN, INT32_MAX, INT32_MIN + 1, -1, 1, 0, 127, -128, 32767, -32768, 1 << 30};
  for (int trial = 0; trial < 400; ++trial) {
    const int bits = 1 + trial % 31;
    std::uniform_int_distribution<int64_t> d(-(int64_t{1} << bits), (int64_t{1} << bits) - 1);
    std::vector<int32_t> a32(41);
    for (auto& a : a32) a = static_cast<int32_t>(d(rng));
    // ties of every shift: odd multiples of 2^(s-1)
    for (size_t i = 0; i < 6; ++i)
      a32[i] = static_cast<int32_t>((2 * (d(rng) >> 8) + 1) * (int64_t{1} << (i + trial % 20)));
    if (trial % 4 == 0)
      for (size_t i = 0; i < std::size(extremes); ++i) a32[6 + i] = extremes[(i + trial) % std::size(extremes)];
    const std::vector<int64_t> a64(a32.begin(), a32.end());
    std::vector<int8_t> q8(a32.size()), r8(a32.size());
    std::vector<int16_t> q16(a32.size()), r16(a32.size());
    CHECK(requantize_i8(a32.data(), 41, 3, q8.data()) == requantize_i8(a64.data(), 41, 3, r8.data()));
    CHECK(q8 == r8);
    CHECK(requantize_i16(a32.data(), 41, -9, q16.data()) == requantize_i16(a64.data(), 41, -9, r16.data()));
    CHECK(q16 == r16);
  }
}

TEST_CASE("add_shifted and shift_all apply apply_shift to each entry, both shift signs, every length") {
  std::mt19937_64 rng(7);
  for (int32_t shift : {0, 1, 5, 20, -1, -3, -17}) {
    for (int64_t count : {0, 1, 7, 8, 9, 33, 100}) {
      std::vector<int64_t> p(static_cast<size_t>(count)), total(p.size()), want(p.size()), shifted(p.size());
      for (size_t i = 0; i < p.size(); ++i) {
        // |p| <= 2^40, so p·2^20 stays far from overflow; every third
        // entry an exact half-way case of a right shift (odd·2^(-shift-1))
        p[i] = static_cast<int64_t>(rng() % (uint64_t{1} << 41)) - (int64_t{1} << 40);
        if (shift < 0 && i % 3 == 0) p[i] = (p[i] >> 20 | 1) * (int64_t{1} << (-shift - 1));
        total[i] = want[i] = static_cast<int64_t>(rng() % 1000) - 500;
        shifted[i] = apply_shift(p[i], shift);
        want[i] += shifted[i];
      }
      add_shifted(total.data(), p.data(), count, shift);
      CHECK_MESSAGE(total == want, "shift ", shift, " count ", count);
      shift_all(p.data(), count, shift);
      CHECK_MESSAGE(p == shifted, "shift_all: shift ", shift, " count ", count);
    }
  }
}

TEST_CASE("requantize_rows: a per-row addend, requantisation and a ReLU in turn, in its two passes") {
  // Against adding each row's addend in int64, requantize_i8 / requantize_i16
  // and a ReLU (negative values to 0) one after the other: random sums of
  // every size up to the int32 bound (the addend keeping them within it),
  // ties of every shift, sums that fit (no shift), rows of 1 and 7 values,
  // with and without addends and the ReLU.
  std::mt19937_64 rng(23);
  for (int trial = 0; trial < 400; ++trial) {
    const int bits = 1 + trial % 29;  // |acc|, |add| <= 2^29: sums within 2^30
    const int64_t rows = 1 + trial % 5, cols = trial % 3 == 0 ? 1 : 7;
    std::uniform_int_distribution<int64_t> d(-(int64_t{1} << bits), (int64_t{1} << bits) - 1);
    std::vector<int32_t> acc(static_cast<size_t>(rows * cols)), add(static_cast<size_t>(rows));
    for (auto& a : acc) a = static_cast<int32_t>(d(rng));
    for (auto& a : add) a = static_cast<int32_t>(d(rng));
    for (size_t i = 0; i < std::min<size_t>(4, acc.size()); ++i) {  // ties: odd multiples of 2^sh
      const int sh = static_cast<int>(i) + trial % 20;
      acc[i] = static_cast<int32_t>((2 * (d(rng) >> (sh + 1)) + 1) * (int64_t{1} << sh));
    }
    const bool with_add = trial % 2 == 0, relu = trial % 3 != 1;
    std::vector<int64_t> sums(acc.size());
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c)
        sums[static_cast<size_t>(r * cols + c)] =
            int64_t{acc[static_cast<size_t>(r * cols + c)]} + (with_add ? add[static_cast<size_t>(r)] : 0);
    std::vector<int8_t> q8(acc.size()), r8(acc.size());
    std::vector<int16_t> q16(acc.size()), r16(acc.size());
    const int32_t* a = with_add ? add.data() : nullptr;
    CAPTURE(trial);
    CHECK(requantize_rows(acc.data(), rows, cols, a, relu, 3, q8.data()) ==
          requantize_i8(sums.data(), rows * cols, 3, r8.data()));
    CHECK(requantize_rows(acc.data(), rows, cols, a, relu, -9, q16.data()) ==
          requantize_i16(sums.data(), rows * cols, -9, r16.data()));
    if (relu) {
      for (auto& v : r8) v = std::max<int8_t>(v, 0);
      for (auto& v : r16) v = std::max<int16_t>(v, 0);
    }
    CHECK(q8 == r8);
    CHECK(q16 == r16);
  }
}
