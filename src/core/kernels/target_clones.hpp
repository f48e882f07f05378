#pragma once
// ZIMT_CLONES before a function definition compiles it for x86-64-v4
// (AVX-512), AVX2 and the baseline; the loader picks the best version the
// CPU runs. For plain loops that the compiler vectorises by itself, written
// once (the GEMM micro-kernels dispatch by hand: gemm.cpp).
#define ZIMT_CLONES __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
