// Linear warm-up from 0 over warmup_epochs, then polynomial decay
// lr(t) = min_lr + (lr - min_lr) * (1 - t)^power over the rest of training (Hugging Face's
// get_polynomial_decay_schedule_with_warmup; power 1 is `linear`).
#include <cmath>

#include "esrun/optim/schedule.h"

namespace esrun {
namespace {

const bool registered = schedules().add(
    "poly", "linear warm-up over warmup_epochs, then (1 - t)^power decay to min_lr",
    [](const ScheduleOptions& o, double lr, double epochs) {
      return warmup_then_decay(o, lr, epochs, [power = o.power](double from, double to, double t) {
        return to + (from - to) * std::pow(1.0 - t, power);
      });
    },
    {.reads = {"schedule.warmup_epochs", "schedule.min_lr", "schedule.power"}});

}  // namespace
}  // namespace esrun
