#include "zimt/data/csv.hpp"

#include "zimt/data/file_bytes.hpp"

#include <charconv>
#include <stdexcept>
#include <string_view>

namespace zimt::data::csv {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

bool is_integer(std::string_view f) {
  int v;
  const auto [p, ec] = std::from_chars(f.data(), f.data() + f.size(), v);
  return ec == std::errc() && p == f.data() + f.size();
}

}  // namespace

Samples read(const std::string& path, Shape shape) {
  const auto bytes = read_file_bytes(path);
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  const uint64_t fields_per_row = 1 + shape.size();
  Samples s;
  s.shape = shape;
  bool first_line = true;
  size_t line_no = 0;
  for (size_t at = 0; at < text.size();) {
    size_t eol = text.find('\n', at);
    if (eol == std::string_view::npos) eol = text.size();
    const std::string_view line = trim(text.substr(at, eol - at));
    at = eol + 1;
    ++line_no;
    if (line.empty()) continue;
    const bool header = first_line && !is_integer(trim(line.substr(0, line.find(','))));
    first_line = false;
    if (header) continue;
    const auto where = [&] { return path + ":" + std::to_string(line_no) + ": "; };
    uint64_t fields = 0;
    for (size_t f = 0; f <= line.size();) {
      size_t comma = line.find(',', f);
      if (comma == std::string_view::npos) comma = line.size();
      const std::string_view field = trim(line.substr(f, comma - f));
      f = comma + 1;
      ++fields;
      if (fields > fields_per_row) continue;  // counted, reported below
      int v = -1;
      const auto [p, ec] = std::from_chars(field.data(), field.data() + field.size(), v);
      if (field.empty() || p != field.data() + field.size() ||
          (ec != std::errc() && ec != std::errc::result_out_of_range)) {
        throw std::runtime_error(where() + "field " + std::to_string(fields) + " '" + std::string(field) +
                                 "' is not an integer");
      }
      if (ec == std::errc::result_out_of_range || v < 0 || v > 255) {
        throw std::runtime_error(where() + "field " + std::to_string(fields) + " value " + std::string(field) +
                                 " outside 0..255");
      }
      (fields == 1 ? s.labels : s.images).push_back(static_cast<uint8_t>(v));
    }
    if (fields != fields_per_row) {
      throw std::runtime_error(where() + std::to_string(fields) + " fields, expected " +
                               std::to_string(fields_per_row) + " (label + " + std::to_string(shape.size()) +
                               " pixels for shape " + shape.str() + ")");
    }
  }
  if (s.count() == 0) throw std::runtime_error(path + ": no samples");
  return s;
}

}  // namespace zimt::data::csv
