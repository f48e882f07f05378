// Runtime dispatch between the scalar and AVX2 kernels, and gemm_nt as rows
// of dot products (simple first; a later issue blocks it for speed).
#include "zimt/kernels/gemm.hpp"

namespace zimt::kernels {

namespace {

struct Dispatch {
  int64_t (*dot_i8_i16)(const int8_t*, const int16_t*, int64_t);
  int64_t (*dot_i16_i16)(const int16_t*, const int16_t*, int64_t);
  const char* name;
};

Dispatch choose() {
  if (avx2::available()) return {&avx2::dot, &avx2::dot, "avx2"};
  return {&scalar::dot, &scalar::dot, "scalar"};
}

const Dispatch& dispatch() {
  static const Dispatch d = choose();
  return d;
}

}  // namespace

int64_t dot(const int8_t* a, const int16_t* b, int64_t k) { return dispatch().dot_i8_i16(a, b, k); }
int64_t dot(const int16_t* a, const int16_t* b, int64_t k) { return dispatch().dot_i16_i16(a, b, k); }
const char* kernel_name() { return dispatch().name; }

void gemm_nt(int64_t* c, int64_t ldc, const int8_t* a, int64_t lda, const int16_t* b, int64_t ldb, int64_t m,
             int64_t n, int64_t k) {
  const auto f = dispatch().dot_i8_i16;
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = f(a + i * lda, b + j * ldb, k);
}

void gemm_nt(int64_t* c, int64_t ldc, const int16_t* a, int64_t lda, const int8_t* b, int64_t ldb, int64_t m,
             int64_t n, int64_t k) {
  const auto f = dispatch().dot_i8_i16;
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = f(b + j * ldb, a + i * lda, k);
}

void gemm_nt(int64_t* c, int64_t ldc, const int16_t* a, int64_t lda, const int16_t* b, int64_t ldb, int64_t m,
             int64_t n, int64_t k) {
  const auto f = dispatch().dot_i16_i16;
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = f(a + i * lda, b + j * ldb, k);
}

}  // namespace zimt::kernels
