// Linear warm-up from 0 over warmup_epochs, then cosine decay to min_lr at the end of training.
#include <algorithm>

#include "esrun/optim/schedule.h"

namespace esrun {
namespace {

class Cosine final : public Schedule {
 public:
  Cosine(const ScheduleOptions& o, double lr, double epochs)
      : lr_(lr), min_lr_(o.min_lr), warmup_(o.warmup_epochs), epochs_(epochs) {}

  double lr(double progress) const override {
    if (progress < warmup_) return lr_ * progress / warmup_;
    const double t = std::clamp((progress - warmup_) / (epochs_ - warmup_), 0.0, 1.0);
    return cosine_interpolate(lr_, min_lr_, t);
  }

 private:
  double lr_, min_lr_, warmup_, epochs_;
};

const bool registered = schedules().add(
    "cosine", "linear warm-up over warmup_epochs, then cosine decay to min_lr",
    [](const ScheduleOptions& o, double lr, double epochs) -> std::unique_ptr<Schedule> {
      return std::make_unique<Cosine>(o, lr, epochs);
    });

}  // namespace
}  // namespace esrun
