#pragma once
// How much memory this process may use: the machine's physical memory, or
// the cgroup v2/v1 memory limit when lower. Readers refuse inputs that would
// need more (a gzip stream inflating past it), training refuses runs whose
// estimate exceeds it (zimt/runs/memory_limit.hpp).
#include <cstdint>

namespace zimt::data {

uint64_t machine_memory_limit();

}  // namespace zimt::data
