// OneCycle with cosine annealing (Smith & Topin 2019; torch.optim.lr_scheduler.OneCycleLR with
// anneal_strategy='cos', three_phase=False), as the ES and InfoBatch papers use on CIFAR:
// lr / div_factor -> lr over the first pct_start of training, then -> lr / div_factor / final_div_factor.
#include <algorithm>

#include "esrun/optim/schedule.h"

namespace esrun {
namespace {

class OneCycle final : public Schedule {
 public:
  OneCycle(const ScheduleOptions& o, double max_lr, double epochs)
      : max_lr_(max_lr), initial_(max_lr / o.div_factor), final_(initial_ / o.final_div_factor),
        pct_start_(o.pct_start), epochs_(epochs) {}

  double lr(double progress) const override {
    const double t = std::clamp(progress / epochs_, 0.0, 1.0);
    if (t <= pct_start_) return cosine_interpolate(initial_, max_lr_, t / pct_start_);
    return cosine_interpolate(max_lr_, final_, (t - pct_start_) / (1.0 - pct_start_));
  }

 private:
  double max_lr_, initial_, final_, pct_start_, epochs_;
};

const bool registered = schedules().add(
    "onecycle", "cosine OneCycle: rise to optimizer.lr over pct_start of training, then anneal",
    [](const ScheduleOptions& o, double lr, double epochs) -> std::unique_ptr<Schedule> {
      return std::make_unique<OneCycle>(o, lr, epochs);
    });

}  // namespace
}  // namespace esrun
