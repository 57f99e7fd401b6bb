// Learning-rate schedules as functions of training progress: `progress` is the fractional epoch
// (epoch + step / steps_in_this_epoch), so a policy that changes the number of steps per epoch
// keeps the schedule on time.
#pragma once

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

}  // namespace esrun
