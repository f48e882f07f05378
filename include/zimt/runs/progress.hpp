#pragma once
// Training progress for people: a one-line bar redrawn in place on a
// terminal, plain periodic lines when the output is a log file or pipe.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace zimt::runs {

struct ProgressState {
  uint64_t step = 0, total_steps = 0;
  uint64_t epoch = 0, epochs = 0;
  double train_loss = 0;  // running mean since the last evaluation
  double last_acc = -1;   // last test accuracy, < 0 before the first evaluation
  double images_per_s = 0;
  double eta_s = 0;
};

class Progress {
 public:
  // `every` = steps between plain lines when not a terminal; quiet = nothing but finish().
  Progress(std::FILE* out, uint64_t every, bool quiet);
  void update(const ProgressState& s);
  // A message on its own line (evaluations, checkpoints), not erased by the bar.
  void message(const std::string& text);
  void finish();

 private:
  std::FILE* out_;
  bool tty_;
  bool quiet_;
  uint64_t every_;
  bool bar_drawn_ = false;
  std::chrono::steady_clock::time_point last_draw_{};
};

// "1h02m", "3m05s", "12s".
std::string format_duration(double seconds);

}  // namespace zimt::runs
