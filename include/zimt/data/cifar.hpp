#pragma once
// CIFAR-10 binary batches (data_batch_N.bin, test_batch.bin): records of
// 1 label byte + 3072 pixel bytes (3 channels of 32x32, R then G then B,
// row-major). Several files are concatenated in the order given.
#include "zimt/data/samples.hpp"

#include <string>
#include <vector>

namespace zimt::data::cifar {

inline constexpr uint64_t kRecordBytes = 1 + 3 * 32 * 32;

// Errors: empty file, size not a multiple of 3073 (truncated record).
Samples read(const std::vector<std::string>& paths);

}  // namespace zimt::data::cifar
