#pragma once
// A 256-entry table indexed by bytes: the input normalisation spreads each
// sample's requantised pixel values with it (train_step.cpp).
#include <cstdint>

namespace zimt::kernels {

// out[i] = table[index[i]] for i < count. On CPUs with AVX-512 VBMI 64 bytes
// at a time (two two-register byte permutes and a blend on bit 7 of the
// index), else one by one: the same bytes.
void byte_lookup(int8_t* out, const uint8_t* index, int64_t count, const int8_t table[256]);

// The one-by-one version, which the other must equal (tests).
void byte_lookup_portable(int8_t* out, const uint8_t* index, int64_t count, const int8_t table[256]);

}  // namespace zimt::kernels
