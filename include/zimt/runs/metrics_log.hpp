#pragma once
// metrics.jsonl (one JSON object per evaluation) and metrics.csv (the same
// rows, for spreadsheets), appended as a run goes. Opening for a resumed run
// keeps the first `keep_lines` rows, the ones the checkpoint had seen, so a
// resumed run's files end up identical to an uninterrupted run's (but for
// the timing fields, metrics_timing_columns()).
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace zimt::runs {

// The columns of a metrics row, in CSV order. Rows may carry more keys.
const std::vector<std::string>& metrics_columns();

// The columns that measure time (they differ between otherwise identical
// runs): images_per_s (training images per second of training, evaluation
// and checkpoints excluded), train_s and eval_s (seconds spent training
// since the previous row, and evaluating for this one), elapsed_s (wall
// seconds since the run's start, summed over resumes).
const std::vector<std::string>& metrics_timing_columns();

class MetricsLog {
 public:
  MetricsLog(const std::filesystem::path& dir, uint64_t keep_lines);
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;
  ~MetricsLog();
  // Appends one row to both files, unbuffered. A failed write (a full disk)
  // throws, leaving both files at the rows before it.
  void append(const nlohmann::json& row);
  uint64_t lines() const { return lines_; }

 private:
  std::filesystem::path jsonl_path_, csv_path_;
  int jsonl_fd_ = -1, csv_fd_ = -1;
  uint64_t lines_ = 0;
};

// All rows of a metrics.jsonl file (a truncated last line is ignored).
std::vector<nlohmann::json> read_metrics(const std::filesystem::path& jsonl);

}  // namespace zimt::runs
