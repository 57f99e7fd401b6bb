// Learning-rate schedules as functions of training progress: `progress` is the fractional epoch
// (epoch + step / steps_in_this_epoch), so a policy that changes the number of steps per epoch
// keeps the schedule on time.
#pragma once

#include <functional>
#include <memory>
#include <optional>

#include "esrun/config/run_config.h"
#include "esrun/core/registry.h"

namespace esrun {

class Schedule {
 public:
  virtual ~Schedule() = default;
  virtual double lr(double progress) const = 0;
  // The momentum (SGD) or beta1 (Adam, AdamW) to use at `progress`; nullopt leaves the optimizer's.
  virtual std::optional<double> momentum(double /*progress*/) const { return std::nullopt; }
};

// base_lr is optimizer.lr; total_epochs is train.epochs.
using ScheduleRegistry = Registry<std::unique_ptr<Schedule>, const ScheduleOptions&, double, double>;
ScheduleRegistry& schedules();

// Cosine interpolation from `from` (at t = 0) to `to` (at t = 1).
double cosine_interpolate(double from, double to, double t);

// Linear warm-up from 0 to base_lr over warmup_epochs, then decay(base_lr, min_lr, t) with t going
// from 0 to 1 over the rest of training: the shape of cosine, linear and poly.
std::unique_ptr<Schedule> warmup_then_decay(const ScheduleOptions& options, double base_lr, double epochs,
                                            std::function<double(double from, double to, double t)> decay);

}  // namespace esrun
