#pragma once
// s (m,K) += 2^shift · a (m,P) · rows (P,K) for an a that is mostly 0: a
// convolution's output error after a 2x2 max pool's backward (pool.hpp),
// where each window passes its error to at most one of its four inputs,
// times the sample's patches (one row of K values per output position), and
// shift >= 0 the sample's align_batch shift (quant.hpp), so that a sample
// adds onto the batch's sum directly. Each row of a takes only its nonzero
// entries; the exact int64 sums for any int16 values, shifted and added
// modulo 2^64 (the caller's bound keeps the total exact).
//
// Implementations, chosen as the pools' (row_kernel_choice.hpp):
//   avx512: a row's nonzero entries in pairs; a pair's two patch rows
//           interleaved (vpunpck*wd: 16 pairs of values per zmm) meet the
//           pair's errors, split into bytes (e = 256·hi + lo, hi in
//           [-128, 127], lo in [0, 255]) and broadcast, in two vpdpwssd,
//           int32 lanes flushed into int64 every 127 pairs (a lane adds
//           two products of |byte|·|x| <= 2^8·2^15 per pair)
//   scalar: int64 products of the nonzero entries (the reference)
// Both return the same bits (tests/core/test_sparse_rows.cpp).
#include <cstdint>
#include <span>

namespace zimt::sparse_rows {

struct Kernels {
  const char* name;
  bool (*available)();
  // list: scratch of list_size(P) values; 0 <= shift < 64.
  void (*add_sums)(int64_t* s, const int16_t* a, int64_t m, int64_t P, const int16_t* rows, int64_t K, int32_t* list,
                   int shift);
};

inline int64_t list_size(int64_t P) { return 2 * (P + 17); }

namespace detail {
extern const Kernels avx512_kernels;  // sparse_rows_avx512.cpp
extern const Kernels scalar_kernels;  // sparse_rows.cpp
}  // namespace detail

// Every implementation, the scalar reference last.
std::span<const Kernels> kernels();
// The one conv2d uses; the scalar reference is slower than the dense GEMM,
// so conv2d takes this way only when a vector kernel is chosen.
const Kernels& chosen();

}  // namespace zimt::sparse_rows
