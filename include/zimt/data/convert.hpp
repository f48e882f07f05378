#pragma once
// `zimt convert` as a library call: read a dataset in a published format,
// optionally cut and split it, write .zds file(s). Every problem throws
// std::runtime_error("<file or option>: <what is wrong>") before any output
// file exists; outputs are written atomically.
#include "zimt/data/samples.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace zimt::data {

enum class InputFormat { detect, idx, cifar, csv };

// "idx" | "cifar" | "csv" | "auto"; throws std::runtime_error("--format: ...").
InputFormat parse_format(const std::string& text);

// From the content of `path` (inflated if gzip): IDX magic 0x00000801/0x00000803
// -> idx; only text bytes in the first 4 KiB -> csv; size a multiple of 3073 ->
// cifar; else throws "<path>: cannot tell the format ...".
InputFormat detect_format(const std::string& path);

struct ConvertOptions {
  std::vector<std::string> inputs;  // files whose format is `format` (or detected)
  InputFormat format = InputFormat::detect;
  std::string images, labels;       // IDX pair (sets format idx)
  std::vector<std::string> cifar;   // CIFAR-10 batches (sets format cifar)
  std::string csv;                  // CSV file (sets format csv)
  std::optional<Shape> shape;       // required for CSV
  std::optional<uint32_t> classes;  // default: largest label + 1
  std::optional<uint64_t> limit;    // keep the first N samples
  std::string split;                // "" = no split; see parse_split
  uint64_t split_seed = 1;
  std::string split_out;  // validation file, required with split
  std::string output;
  bool force = false;  // replace existing outputs
};

struct ConvertResult {
  Shape shape;
  uint32_t classes = 0;
  uint64_t written = 0;   // samples in `output`
  uint64_t held_out = 0;  // samples in `split_out`
};

// Reads the inputs named by `o` (exactly one of: inputs, images+labels, cifar,
// csv), keeps the first `limit` samples, checks labels against `classes`,
// splits, writes.
ConvertResult convert(const ConvertOptions& o);

}  // namespace zimt::data
