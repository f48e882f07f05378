// Runtime dispatch: the implementation is chosen once (first use), from the
// CPU's features and the ZIMT_KERNEL environment variable.
#include <array>
#include <cstdlib>
#include <string_view>

#include "gemm_common.hpp"

namespace zimt::kernels {

namespace {

const std::array<Implementation, 4> kAll{detail::avx512vnni_implementation, detail::avxvnni_implementation,
                                         detail::avx2_implementation, detail::scalar_implementation};

const Implementation& choose() {
  const char* forced = std::getenv("ZIMT_KERNEL");
  if (forced != nullptr)
    for (const Implementation& impl : kAll)
      if (std::string_view(forced) == impl.name && impl.available()) return impl;
  for (const Implementation& impl : kAll)
    if (impl.available()) return impl;
  return kAll.back();
}

const Implementation& chosen() {
  static const Implementation& impl = choose();
  return impl;
}

}  // namespace

std::span<const Implementation> implementations() { return kAll; }
const char* kernel_name() { return chosen().name; }

void gemm_nt(int64_t* c, int64_t ldc, const int8_t* a, int64_t lda, const int16_t* b, int64_t ldb, int64_t m, int64_t n,
             int64_t k) {
  chosen().i8_i16(c, ldc, a, lda, b, ldb, m, n, k);
}

void gemm_nt(int64_t* c, int64_t ldc, const int16_t* a, int64_t lda, const int8_t* b, int64_t ldb, int64_t m, int64_t n,
             int64_t k) {
  chosen().i16_i8(c, ldc, a, lda, b, ldb, m, n, k);
}

void gemm_nt(int64_t* c, int64_t ldc, const int16_t* a, int64_t lda, const int16_t* b, int64_t ldb, int64_t m,
             int64_t n, int64_t k) {
  chosen().i16_i16(c, ldc, a, lda, b, ldb, m, n, k);
}

void gemm_nt(int64_t* c, int64_t ldc, const int8_t* a, int64_t lda, const int8_t* b, int64_t ldb, int64_t m, int64_t n,
             int64_t k) {
  chosen().i8_i8(c, ldc, a, lda, b, ldb, m, n, k);
}

void gemm_nt(int32_t* c, int64_t ldc, const int8_t* a, int64_t lda, const int16_t* b, int64_t ldb, int64_t m, int64_t n,
             int64_t k) {
  chosen().i8_i16_c32(c, ldc, a, lda, b, ldb, m, n, k);
}

void gemm_nt(int32_t* c, int64_t ldc, const int16_t* a, int64_t lda, const int8_t* b, int64_t ldb, int64_t m, int64_t n,
             int64_t k) {
  chosen().i16_i8_c32(c, ldc, a, lda, b, ldb, m, n, k);
}

void gemm_nt(int32_t* c, int64_t ldc, const int16_t* a, int64_t lda, const int16_t* b, int64_t ldb, int64_t m,
             int64_t n, int64_t k) {
  chosen().i16_i16_c32(c, ldc, a, lda, b, ldb, m, n, k);
}

void gemm_nt(int32_t* c, int64_t ldc, const int8_t* a, int64_t lda, const int8_t* b, int64_t ldb, int64_t m, int64_t n,
             int64_t k) {
  chosen().i8_i8_c32(c, ldc, a, lda, b, ldb, m, n, k);
}

void gemm_nt_segmented(int64_t* c, int64_t ldc, const int16_t* a, int64_t lda, const int8_t* b, int64_t ldb, int64_t m,
                       int64_t n, int64_t k, std::span<const KSegment> segments, bool accumulate) {
  chosen().i16_i8_segmented(c, ldc, a, lda, b, ldb, m, n, k, segments, accumulate);
}

void gemm_nt_segmented(int64_t* c, int64_t ldc, const int16_t* a, int64_t lda, const int16_t* b, int64_t ldb, int64_t m,
                       int64_t n, int64_t k, std::span<const KSegment> segments, bool accumulate) {
  chosen().i16_i16_segmented(c, ldc, a, lda, b, ldb, m, n, k, segments, accumulate);
}

void gemm_rows(int64_t* c, int64_t ldc, const int8_t* a, int64_t lda, const int16_t* b, const int64_t* rows, int64_t m,
               int64_t n, int64_t k) {
  chosen().i8_rows(c, ldc, a, lda, b, rows, m, n, k);
}

void gemm_rows(int64_t* c, int64_t ldc, const int16_t* a, int64_t lda, const int16_t* b, const int64_t* rows, int64_t m,
               int64_t n, int64_t k) {
  chosen().i16_rows(c, ldc, a, lda, b, rows, m, n, k);
}

void gemm_rows(int32_t* c, int64_t ldc, const int8_t* a, int64_t lda, const int16_t* b, const int64_t* rows, int64_t m,
               int64_t n, int64_t k) {
  chosen().i8_rows_c32(c, ldc, a, lda, b, rows, m, n, k);
}

void gemm_rows(int32_t* c, int64_t ldc, const int16_t* a, int64_t lda, const int16_t* b, const int64_t* rows, int64_t m,
               int64_t n, int64_t k) {
  chosen().i16_rows_c32(c, ldc, a, lda, b, rows, m, n, k);
}

}  // namespace zimt::kernels
