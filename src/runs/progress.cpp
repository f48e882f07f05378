#include "zimt/runs/progress.hpp"

#include <unistd.h>

#include <cmath>

namespace zimt::runs {

std::string format_duration(double seconds) {
  if (!(seconds >= 0) || seconds > 1e8) return "--";
  const auto s = static_cast<long long>(std::llround(seconds));
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", s / 3600, s / 60 % 60);
  else if (s >= 60)
    std::snprintf(buf, sizeof buf, "%lldm%02llds", s / 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%llds", s);
  return buf;
}

Progress::Progress(std::FILE* out, uint64_t every, bool quiet)
    : out_(out), tty_(isatty(fileno(out)) != 0), quiet_(quiet), every_(every == 0 ? 1 : every) {}

void Progress::update(const ProgressState& s) {
  if (quiet_) return;
  char acc[16] = "-";
  if (s.last_acc >= 0) std::snprintf(acc, sizeof acc, "%.2f%%", 100 * s.last_acc);
  if (tty_) {
    const auto now = std::chrono::steady_clock::now();
    if (s.step != s.total_steps && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    constexpr int width = 24;
    const int filled = s.total_steps ? static_cast<int>(width * s.step / s.total_steps) : 0;
    std::string bar(static_cast<size_t>(filled), '#');
    bar.resize(width, '.');
    std::fprintf(out_, "\r\033[K[%s] epoch %llu/%llu step %llu/%llu loss %.4f acc %s %.0f img/s ETA %s", bar.c_str(),
                 static_cast<unsigned long long>(s.epoch) + 1, static_cast<unsigned long long>(s.epochs),
                 static_cast<unsigned long long>(s.step), static_cast<unsigned long long>(s.total_steps), s.train_loss,
                 acc, s.images_per_s, format_duration(s.eta_s).c_str());
    bar_drawn_ = true;
  } else {
    if (s.step % every_ != 0 && s.step != s.total_steps) return;
    std::fprintf(out_, "step %llu/%llu epoch %llu loss %.4f acc %s %.0f img/s eta %s\n",
                 static_cast<unsigned long long>(s.step), static_cast<unsigned long long>(s.total_steps),
                 static_cast<unsigned long long>(s.epoch) + 1, s.train_loss, acc, s.images_per_s,
                 format_duration(s.eta_s).c_str());
  }
  std::fflush(out_);
}

void Progress::message(const std::string& text) {
  if (quiet_) return;
  if (bar_drawn_) std::fputs("\r\033[K", out_);
  std::fprintf(out_, "%s\n", text.c_str());
  bar_drawn_ = false;
  last_draw_ = {};
  std::fflush(out_);
}

void Progress::finish() {
  if (bar_drawn_) std::fputc('\n', out_);
  bar_drawn_ = false;
  std::fflush(out_);
}

}  // namespace zimt::runs
