#include "esrun/metrics/progress.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>

namespace esrun {
namespace {

constexpr double kBarRedrawSeconds = 0.25;
constexpr int kBarWidth = 24;

std::string duration(double seconds) {
  const auto s = static_cast<int64_t>(std::max(0.0, seconds) + 0.5);
  if (s >= 3600) return fmt::format("{}h{:02d}m", s / 3600, (s % 3600) / 60);
  if (s >= 60) return fmt::format("{}m{:02d}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

}  // namespace

ProgressMode progress_mode(const std::string& configured) {
  if (configured == "bar") return ProgressMode::Bar;
  if (configured == "lines") return ProgressMode::Lines;
  if (configured == "off") return ProgressMode::Off;
  return ::isatty(STDERR_FILENO) ? ProgressMode::Bar : ProgressMode::Lines;
}

ProgressReporter::ProgressReporter(ProgressMode mode, double line_every_seconds)
    : mode_(mode), every_(line_every_seconds), last_draw_(std::chrono::steady_clock::now()) {}

ProgressReporter::~ProgressReporter() { clear(); }

std::string ProgressReporter::describe(const StepProgress& p) const {
  const double per_step = p.step > 0 ? p.seconds / static_cast<double>(p.step) : 0.0;
  const double this_epoch = per_step * static_cast<double>(p.steps);
  // Later epochs are estimated from the finished ones (evaluation included), or from this one.
  const double per_epoch = finished_epochs_ > 0 ? finished_seconds_ / static_cast<double>(finished_epochs_) : this_epoch;
  const double eta = per_step * static_cast<double>(p.steps - p.step) +
                     per_epoch * static_cast<double>(std::max<int64_t>(0, p.epochs - p.epoch - 1));
  const double loss = p.trained > 0 && p.loss_sum.defined() ? p.loss_sum.item<double>() / static_cast<double>(p.trained) : 0.0;
  const double rate = p.seconds > 0 ? static_cast<double>(p.images) / p.seconds : 0.0;
  std::string text = fmt::format("epoch {}/{} ", p.epoch + 1, p.epochs);
  if (mode_ == ProgressMode::Bar) {
    const auto filled = p.steps > 0 ? static_cast<int>(kBarWidth * p.step / p.steps) : 0;
    text += fmt::format("[{:#<{}}{:.<{}}] ", "", filled, "", kBarWidth - filled);
  }
  text += fmt::format("step {}/{}  loss {:.4f}  {:.0f} img/s  ETA {}", p.step, p.steps, loss, rate, duration(eta));
  return text;
}

void ProgressReporter::step(const StepProgress& progress) {
  if (mode_ == ProgressMode::Off) return;
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_draw_).count();
  if (since < (mode_ == ProgressMode::Bar ? kBarRedrawSeconds : every_)) return;
  last_draw_ = now;
  if (mode_ == ProgressMode::Lines) {
    spdlog::info(describe(progress));
    return;
  }
  std::fprintf(stderr, "\r%s\x1b[K", describe(progress).c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressReporter::epoch_done(double epoch_seconds) {
  clear();
  finished_seconds_ += epoch_seconds;
  ++finished_epochs_;
}

void ProgressReporter::clear() {
  if (!drawn_) return;
  std::fprintf(stderr, "\r\x1b[K");
  std::fflush(stderr);
  drawn_ = false;
}

}  // namespace esrun
