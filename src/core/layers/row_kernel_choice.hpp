#pragma once
// The pools' row kernels (max_2x2.hpp, window_rows.hpp): every
// implementation, the scalar reference last, and the one the pool uses,
// which follows the GEMM's choice (ZIMT_KERNEL included, kernels/gemm.hpp):
// the AVX-512 set when gemm_nt runs its avx512vnni kernels and the CPU runs
// the set, else the scalar reference.
#include <array>
#include <span>
#include <string_view>

#include "zimt/kernels/gemm.hpp"

namespace zimt::detail {

template <class RowKernels, const RowKernels& Avx512, const RowKernels& Scalar>
struct RowKernelChoice {
  static std::span<const RowKernels> all() {
    static const std::array<RowKernels, 2> every{Avx512, Scalar};
    return every;
  }
  static const RowKernels& chosen() {
    static const RowKernels& impl =
        std::string_view(kernels::kernel_name()) == "avx512vnni" && Avx512.available() ? Avx512 : Scalar;
    return impl;
  }
};

}  // namespace zimt::detail
