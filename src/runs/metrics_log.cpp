#include "zimt/runs/metrics_log.hpp"

#include "zimt/data/atomic_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace zimt::runs {

namespace fs = std::filesystem;
using nlohmann::json;

const std::vector<std::string>& metrics_columns() {
  static const std::vector<std::string> columns = {
      "step",      "epoch", "train_loss", "test_loss", "test_acc", "eval_samples", "images_per_s",
      "saturated", "u_l1",  "changed",    "max_abs_w", "train_s",  "eval_s",       "elapsed_s"};
  return columns;
}

const std::vector<std::string>& metrics_timing_columns() {
  static const std::vector<std::string> columns = {"images_per_s", "train_s", "eval_s", "elapsed_s"};
  return columns;
}

namespace {

std::string csv_row(const json& row) {
  std::string line;
  for (const auto& c : metrics_columns()) {
    if (!line.empty()) line += ',';
    if (row.contains(c)) line += row[c].dump();
  }
  return line + '\n';
}

std::string csv_header() {
  std::string line;
  for (const auto& c : metrics_columns()) line += (line.empty() ? "" : ",") + c;
  return line + '\n';
}

}  // namespace

std::vector<json> read_metrics(const fs::path& jsonl) {
  std::vector<json> rows;
  std::ifstream in(jsonl);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    json row = json::parse(line, nullptr, false);
    if (row.is_discarded()) break;  // a line cut short by a kill: the rows before it stand
    rows.push_back(std::move(row));
  }
  return rows;
}

MetricsLog::MetricsLog(const fs::path& dir, uint64_t keep_lines)
    : jsonl_path_(dir / "metrics.jsonl"), csv_path_(dir / "metrics.csv") {
  // Rewrite both files with the rows to keep (atomically), then append.
  auto rows = read_metrics(jsonl_path_);
  if (rows.size() < keep_lines)
    throw std::runtime_error(jsonl_path_.string() + ": has " + std::to_string(rows.size()) +
                             " rows but the checkpoint saw " + std::to_string(keep_lines));
  rows.resize(keep_lines);
  std::string jsonl_text, csv_text = csv_header();
  for (const auto& row : rows) {
    jsonl_text += row.dump() + '\n';
    csv_text += csv_row(row);
  }
  data::write_file_atomic(jsonl_path_.string(), jsonl_text);
  data::write_file_atomic(csv_path_.string(), csv_text);
  lines_ = keep_lines;
  jsonl_fd_ = ::open(jsonl_path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  csv_fd_ = ::open(csv_path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (jsonl_fd_ < 0 || csv_fd_ < 0)
    throw std::runtime_error(dir.string() + ": cannot open the metrics files for writing: " + std::strerror(errno));
}

MetricsLog::~MetricsLog() {
  if (jsonl_fd_ >= 0) ::close(jsonl_fd_);
  if (csv_fd_ >= 0) ::close(csv_fd_);
}

namespace {

// Appends all of `text` unbuffered; false (errno set) when a write fails.
bool append_all(int fd, std::string_view text) {
  while (!text.empty()) {
    const ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    text.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

}  // namespace

void MetricsLog::append(const json& row) {
  const auto jsonl_size = fs::file_size(jsonl_path_), csv_size = fs::file_size(csv_path_);
  const bool jsonl_ok = append_all(jsonl_fd_, row.dump() + '\n');
  if (!jsonl_ok || !append_all(csv_fd_, csv_row(row))) {
    const int err = errno;
    // A write cut short (disk full, file size limit) is cut back to the rows
    // before it, so neither file ends in a partial row.
    [[maybe_unused]] const int cut_jsonl = ::ftruncate(jsonl_fd_, static_cast<off_t>(jsonl_size));
    [[maybe_unused]] const int cut_csv = ::ftruncate(csv_fd_, static_cast<off_t>(csv_size));
    throw std::runtime_error((jsonl_ok ? csv_path_ : jsonl_path_).string() + ": write failed: " + std::strerror(err) +
                             " (the rows before it are kept)");
  }
  ++lines_;
}

}  // namespace zimt::runs
