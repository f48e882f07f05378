// zimt inspect: a .zds file's header, class histogram and an ASCII preview.
#include "commands.hpp"

#include "zimt/data/dataset.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace zimt::cli {
namespace {

// Dark to bright.
constexpr const char kRamp[] = " .:-=+*#%@";

std::vector<uint64_t> histogram(const data::Dataset& d) {
  std::vector<uint64_t> h(d.classes(), 0);
  for (uint64_t i = 0; i < d.size(); ++i) ++h[d.label(i)];
  return h;
}

// Sample `index` as text, two characters per pixel (terminal cells are tall);
// channels are averaged.
std::string preview(const data::Dataset& d, uint64_t index) {
  const uint8_t* im = d.image(index);
  const uint64_t plane = uint64_t{d.height()} * d.width();
  std::string out;
  for (uint32_t y = 0; y < d.height(); ++y) {
    out += "  |";
    for (uint32_t x = 0; x < d.width(); ++x) {
      uint32_t sum = 0;
      for (uint32_t c = 0; c < d.channels(); ++c) sum += im[c * plane + y * d.width() + x];
      const uint32_t v = sum / d.channels();
      const char ch = kRamp[v * (sizeof kRamp - 1) / 256];
      out += ch;
      out += ch;
    }
    out += "|\n";
  }
  return out;
}

}  // namespace

void add_inspect(CLI::App& app) {
  struct Args {
    std::string path;
    uint64_t index = 0;
    bool json = false, no_preview = false;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("inspect", "Print a .zds file's header, class histogram and a preview");
  cmd->add_option("file", args->path, ".zds file (verified in full: header, sizes, checksum, labels)")->required();
  cmd->add_option("--index", args->index, "Sample to preview")->capture_default_str();
  cmd->add_flag("--json", args->json, "Print the header and histogram as one JSON object");
  cmd->add_flag("--no-preview", args->no_preview, "Skip the ASCII preview");
  cmd->callback([args] {
    const auto d = data::Dataset::open(args->path);
    const auto hist = histogram(d);
    if (args->json) {
      const nlohmann::json j = {
          {"file", args->path},       {"version", data::zds::kVersion}, {"samples", d.size()},
          {"channels", d.channels()}, {"height", d.height()},           {"width", d.width()},
          {"classes", d.classes()},   {"element_type", "u8"},           {"payload_crc32", d.payload_crc32()},
          {"histogram", hist}};
      std::printf("%s\n", j.dump().c_str());
      return;
    }
    if (args->index >= d.size()) {
      throw std::runtime_error("--index " + std::to_string(args->index) + ": " + args->path + " has " +
                               std::to_string(d.size()) + " samples");
    }
    std::printf("file       %s\n", args->path.c_str());
    std::printf("format     .zds version %u, u8 pixels, u8 labels\n", data::zds::kVersion);
    std::printf("samples    %llu\n", static_cast<unsigned long long>(d.size()));
    std::printf("shape      %s (C x H x W)\n", d.shape().str().c_str());
    std::printf("classes    %u\n", d.classes());
    std::printf("checksum   crc32 %08x (verified)\n", d.payload_crc32());
    std::printf("histogram\n");
    uint64_t most = 1;
    for (uint64_t n : hist) most = std::max(most, n);
    for (uint32_t k = 0; k < d.classes(); ++k) {
      const uint64_t bar = (hist[k] * 40 + most - 1) / most;
      std::printf("  %3u %9llu  %5.1f%%  %s\n", k, static_cast<unsigned long long>(hist[k]),
                  100.0 * static_cast<double>(hist[k]) / static_cast<double>(d.size()), std::string(bar, '#').c_str());
    }
    if (!args->no_preview) {
      std::printf("sample %llu, label %u\n%s", static_cast<unsigned long long>(args->index), d.label(args->index),
                  preview(d, args->index).c_str());
    }
  });
}

}  // namespace zimt::cli
