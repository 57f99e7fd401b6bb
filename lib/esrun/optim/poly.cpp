// Linear warm-up from 0 over warmup_epochs, then polynomial decay
// lr(t) = min_lr + (lr - min_lr) * (1 - t)^power over the rest of training (Hugging Face's
// get_polynomial_decay_schedule_with_warmup; power 1 is `linear`).
#include <algorithm>
#include <cmath>

#include "esrun/optim/schedule.h"

namespace esrun {
namespace {

class Poly final : public Schedule {
 public:
  Poly(const ScheduleOptions& o, double lr, double epochs)
      : lr_(lr), min_lr_(o.min_lr), warmup_(o.warmup_epochs), power_(o.power), epochs_(epochs) {}

  double lr(double progress) const override {
    if (progress < warmup_) return lr_ * progress / warmup_;
    const double t = std::clamp((progress - warmup_) / (epochs_ - warmup_), 0.0, 1.0);
    return min_lr_ + (lr_ - min_lr_) * std::pow(1.0 - t, power_);
  }

 private:
  double lr_, min_lr_, warmup_, power_, epochs_;
};

const bool registered = schedules().add(
    "poly", "linear warm-up over warmup_epochs, then (1 - t)^power decay to min_lr",
    [](const ScheduleOptions& o, double lr, double epochs) -> std::unique_ptr<Schedule> {
      return std::make_unique<Poly>(o, lr, epochs);
    });

}  // namespace
}  // namespace esrun
