// Linear warm-up from 0 over warmup_epochs, then linear decay to min_lr at the end of training:
// the schedule of BERT, ALBERT and ViT fine-tuning (Hugging Face's get_linear_schedule_with_warmup
// with min_lr = 0).
#include <algorithm>

#include "esrun/optim/schedule.h"

namespace esrun {
namespace {

class Linear final : public Schedule {
 public:
  Linear(const ScheduleOptions& o, double lr, double epochs)
      : lr_(lr), min_lr_(o.min_lr), warmup_(o.warmup_epochs), epochs_(epochs) {}

  double lr(double progress) const override {
    if (progress < warmup_) return lr_ * progress / warmup_;
    const double t = std::clamp((progress - warmup_) / (epochs_ - warmup_), 0.0, 1.0);
    return lr_ + (min_lr_ - lr_) * t;
  }

 private:
  double lr_, min_lr_, warmup_, epochs_;
};

const bool registered = schedules().add(
    "linear", "linear warm-up over warmup_epochs, then linear decay to min_lr (BERT/ViT fine-tuning)",
    [](const ScheduleOptions& o, double lr, double epochs) -> std::unique_ptr<Schedule> {
      return std::make_unique<Linear>(o, lr, epochs);
    });

}  // namespace
}  // namespace esrun
