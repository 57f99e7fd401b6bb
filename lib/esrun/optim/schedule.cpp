#include "esrun/optim/schedule.h"

#include <algorithm>
#include <cmath>

namespace esrun {

ScheduleRegistry& schedules() {
  static ScheduleRegistry registry("schedule");
  return registry;
}

double cosine_interpolate(double from, double to, double t) {
  return to + (from - to) * 0.5 * (1.0 + std::cos(M_PI * t));
}

namespace {

class WarmupThenDecay final : public Schedule {
 public:
  WarmupThenDecay(const ScheduleOptions& o, double lr, double epochs,
                  std::function<double(double, double, double)> decay)
      : lr_(lr), min_lr_(o.min_lr), warmup_(o.warmup_epochs), epochs_(epochs), decay_(std::move(decay)) {}

  double lr(double progress) const override {
    if (progress < warmup_) return lr_ * progress / warmup_;
    return decay_(lr_, min_lr_, std::clamp((progress - warmup_) / (epochs_ - warmup_), 0.0, 1.0));
  }

 private:
  double lr_, min_lr_, warmup_, epochs_;
  std::function<double(double, double, double)> decay_;
};

}  // namespace

std::unique_ptr<Schedule> warmup_then_decay(const ScheduleOptions& options, double base_lr, double epochs,
                                            std::function<double(double from, double to, double t)> decay) {
  return std::make_unique<WarmupThenDecay>(options, base_lr, epochs, std::move(decay));
}

}  // namespace esrun
