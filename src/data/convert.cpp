#include "zimt/data/convert.hpp"

#include "zimt/data/atomic_file.hpp"
#include "zimt/data/cifar.hpp"
#include "zimt/data/csv.hpp"
#include "zimt/data/dataset.hpp"
#include "zimt/data/file_bytes.hpp"
#include "zimt/data/idx.hpp"
#include "zimt/data/split.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <stdexcept>

namespace zimt::data {
namespace {

// Samples read from one labels source (the file named in label errors).
struct Part {
  std::string label_file;
  Samples samples;
};

bool file_exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

std::vector<Part> read_idx_inputs(const std::vector<std::string>& files) {
  if (files.size() != 2) {
    throw std::runtime_error("IDX input needs two files (images and labels), got " + std::to_string(files.size()));
  }
  // Tell images from labels by their magic.
  const auto first = read_file_bytes(files[0]);
  const bool first_is_images = idx::magic_of(first) != idx::kLabelsMagic;
  const std::string& images = first_is_images ? files[0] : files[1];
  const std::string& labels = first_is_images ? files[1] : files[0];
  return {{labels, idx::read(images, labels)}};
}

std::vector<Part> read_parts(const ConvertOptions& o) {
  const int sources = !o.inputs.empty() + (!o.images.empty() || !o.labels.empty()) + !o.cifar.empty() + !o.csv.empty();
  if (sources == 0) throw std::runtime_error("no input: give --images/--labels, --cifar, --csv or input files");
  if (sources > 1)
    throw std::runtime_error("give only one kind of input (input files, --images/--labels, --cifar or --csv)");
  if (!o.images.empty() || !o.labels.empty()) {
    if (o.images.empty()) throw std::runtime_error("--labels needs --images");
    if (o.labels.empty()) throw std::runtime_error("--images needs --labels");
    return {{o.labels, idx::read(o.images, o.labels)}};
  }
  InputFormat format = o.format;
  std::vector<std::string> files = o.inputs;
  if (!o.cifar.empty()) format = InputFormat::cifar, files = o.cifar;
  if (!o.csv.empty()) format = InputFormat::csv, files = {o.csv};
  if (format == InputFormat::detect) format = detect_format(files.front());
  std::vector<Part> parts;
  switch (format) {
    case InputFormat::idx: return read_idx_inputs(files);
    case InputFormat::cifar:
      for (const auto& f : files) parts.push_back({f, cifar::read({f})});
      return parts;
    case InputFormat::csv:
      if (!o.shape) throw std::runtime_error("CSV input needs --shape C,H,W");
      for (const auto& f : files) parts.push_back({f, csv::read(f, *o.shape)});
      for (const auto& p : parts) {
        if (p.samples.shape != parts.front().samples.shape) throw std::runtime_error(p.label_file + ": shape differs");
      }
      return parts;
    case InputFormat::detect: break;
  }
  throw std::logic_error("unreachable input format");
}

}  // namespace

InputFormat parse_format(const std::string& text) {
  if (text == "auto") return InputFormat::detect;
  if (text == "idx") return InputFormat::idx;
  if (text == "cifar") return InputFormat::cifar;
  if (text == "csv") return InputFormat::csv;
  throw std::runtime_error("--format: expected idx, cifar, csv or auto, got '" + text + "'");
}

InputFormat detect_format(const std::string& path) {
  const auto bytes = read_file_bytes(path);
  if (bytes.empty()) throw std::runtime_error(path + ": empty file");
  const uint32_t magic = idx::magic_of(bytes);
  if (magic == idx::kImagesMagic || magic == idx::kLabelsMagic) return InputFormat::idx;
  const size_t head = std::min<size_t>(bytes.size(), 4096);
  const bool text = std::all_of(bytes.begin(), bytes.begin() + head, [](uint8_t c) {
    return c == '\n' || c == '\r' || c == '\t' || (c >= 0x20 && c < 0x7f);
  });
  if (text) return InputFormat::csv;
  if (bytes.size() % cifar::kRecordBytes == 0) return InputFormat::cifar;
  throw std::runtime_error(path + ": cannot tell the format (not IDX, CIFAR-10 or CSV); pass --format");
}

ConvertResult convert(const ConvertOptions& o) {
  if (o.output.empty()) throw std::runtime_error("-o/--output: required");
  const Overwrite mode = o.force ? Overwrite::replace : Overwrite::refuse;
  const bool splitting = !o.split.empty();
  if (splitting && o.split_out.empty())
    throw std::runtime_error("--split needs --split-out FILE for the held-out part");
  if (!splitting && !o.split_out.empty()) throw std::runtime_error("--split-out needs --split");
  if (splitting && o.split_out == o.output) throw std::runtime_error("--split-out must differ from -o");
  // Fail before the (possibly long) read when an output exists.
  for (const auto* out : {&o.output, &o.split_out}) {
    if (!out->empty() && mode == Overwrite::refuse && file_exists(*out)) {
      throw std::runtime_error(*out + ": already exists (pass --force to overwrite)");
    }
  }
  if (o.classes && (*o.classes < 1 || *o.classes > 256)) throw std::runtime_error("--classes: must be in 1..256");
  if (o.limit && *o.limit < 1) throw std::runtime_error("--limit: must be >= 1");

  auto parts = read_parts(o);
  uint64_t remaining = o.limit.value_or(UINT64_MAX);
  uint32_t classes = 0;
  for (auto& p : parts) {
    p.samples.truncate(remaining);
    remaining -= p.samples.count();
    classes = std::max(classes, class_count(p.samples));
  }
  if (o.classes) {
    for (const auto& p : parts) {
      for (uint64_t i = 0; i < p.samples.count(); ++i) {
        if (p.samples.labels[i] >= *o.classes) {
          throw std::runtime_error(p.label_file + ": sample " + std::to_string(i) + " has label " +
                                   std::to_string(p.samples.labels[i]) + " >= class count " +
                                   std::to_string(*o.classes) + " (--classes)");
        }
      }
    }
    classes = *o.classes;
  }
  Samples all = std::move(parts.front().samples);
  for (size_t k = 1; k < parts.size(); ++k) {
    const Samples& p = parts[k].samples;
    all.labels.insert(all.labels.end(), p.labels.begin(), p.labels.end());
    all.images.insert(all.images.end(), p.images.begin(), p.images.end());
  }
  ConvertResult r{all.shape, classes, all.count(), 0};
  if (!splitting) {
    write_zds(o.output, all, classes, mode);
    return r;
  }
  const uint64_t held = parse_split(o.split, all.count());
  const auto [kept, val] = split_samples(all, held, o.split_seed);
  AtomicFile kept_file(o.output, mode), val_file(o.split_out, mode);
  write_zds(kept_file, kept, classes);
  write_zds(val_file, val, classes);
  kept_file.commit();
  val_file.commit();
  r.written = kept.count();
  r.held_out = val.count();
  return r;
}

}  // namespace zimt::data
