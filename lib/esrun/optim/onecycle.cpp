// OneCycle with cosine annealing (Smith & Topin 2019; torch.optim.lr_scheduler.OneCycleLR with
// anneal_strategy='cos', three_phase=False), as the ES and InfoBatch papers use on CIFAR:
// lr / div_factor -> lr over the first pct_start of training, then -> lr / div_factor / final_div_factor.
// With cycle_momentum (torch's default) the momentum moves the other way: max_momentum -> base_momentum
// while the lr rises, then back to max_momentum.
#include <algorithm>

#include "esrun/optim/schedule.h"

namespace esrun {
namespace {

class OneCycle final : public Schedule {
 public:
  OneCycle(const ScheduleOptions& o, double max_lr, double epochs)
      : max_lr_(max_lr), initial_(max_lr / o.div_factor), final_(initial_ / o.final_div_factor),
        pct_start_(o.pct_start), epochs_(epochs), cycle_momentum_(o.cycle_momentum),
        base_momentum_(o.base_momentum), max_momentum_(o.max_momentum) {}

  double lr(double progress) const override { return phase(progress, initial_, max_lr_, final_); }

  std::optional<double> momentum(double progress) const override {
    if (!cycle_momentum_) return std::nullopt;
    return phase(progress, max_momentum_, base_momentum_, max_momentum_);
  }

 private:
  // start -> peak over the first pct_start of training, then peak -> end, cosine both ways.
  double phase(double progress, double start, double peak, double end) const {
    const double t = std::clamp(progress / epochs_, 0.0, 1.0);
    if (t <= pct_start_) return cosine_interpolate(start, peak, t / pct_start_);
    return cosine_interpolate(peak, end, (t - pct_start_) / (1.0 - pct_start_));
  }

  double max_lr_, initial_, final_, pct_start_, epochs_;
  bool cycle_momentum_;
  double base_momentum_, max_momentum_;
};

const bool registered = schedules().add(
    "onecycle", "cosine OneCycle: rise to optimizer.lr over pct_start of training, then anneal",
    [](const ScheduleOptions& o, double lr, double epochs) -> std::unique_ptr<Schedule> {
      return std::make_unique<OneCycle>(o, lr, epochs);
    },
    {.reads = {"schedule.pct_start", "schedule.div_factor", "schedule.final_div_factor", "schedule.cycle_momentum",
        "schedule.base_momentum", "schedule.max_momentum"}});

}  // namespace
}  // namespace esrun
