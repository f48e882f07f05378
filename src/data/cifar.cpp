#include "zimt/data/cifar.hpp"

#include "zimt/data/file_bytes.hpp"

#include <stdexcept>

namespace zimt::data::cifar {

Samples read(const std::vector<std::string>& paths) {
  if (paths.empty()) throw std::runtime_error("--cifar: no input files");
  Samples s;
  s.shape = {3, 32, 32};
  for (const auto& path : paths) {
    const auto bytes = read_file_bytes(path);
    if (bytes.empty()) throw std::runtime_error(path + ": empty file");
    if (bytes.size() % kRecordBytes != 0) {
      throw std::runtime_error(
          path + ": size " + std::to_string(bytes.size()) +
          " is not a multiple of 3073 (1 label + 3072 pixel bytes per record): truncated or not CIFAR-10");
    }
    for (size_t at = 0; at < bytes.size(); at += kRecordBytes) {
      s.labels.push_back(bytes[at]);
      s.images.insert(s.images.end(), bytes.begin() + at + 1, bytes.begin() + at + kRecordBytes);
    }
  }
  return s;
}

}  // namespace zimt::data::cifar
