#include "zimt/data/machine_memory.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <limits>
#include <string>

namespace zimt::data {
namespace {

constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

// A cgroup limit file's number, or kMax for "max", a missing file or anything else.
uint64_t cgroup_limit(const char* path) {
  std::ifstream in(path);
  std::string text;
  if (!(in >> text) || text.empty() || !std::isdigit(static_cast<unsigned char>(text[0]))) return kMax;
  try {
    return std::stoull(text);
  } catch (const std::exception&) {
    return kMax;
  }
}

}  // namespace

uint64_t machine_memory_limit() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  uint64_t limit = kMax;
  if (pages > 0 && page > 0) {
    const auto p = static_cast<uint64_t>(pages), s = static_cast<uint64_t>(page);
    limit = p > kMax / s ? kMax : p * s;
  }
  limit = std::min(limit, cgroup_limit("/sys/fs/cgroup/memory.max"));
  limit = std::min(limit, cgroup_limit("/sys/fs/cgroup/memory/memory.limit_in_bytes"));
  return limit;
}

}  // namespace zimt::data
