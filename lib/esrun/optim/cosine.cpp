// Linear warm-up from 0 over warmup_epochs, then cosine decay to min_lr at the end of training.
#include "esrun/optim/schedule.h"

namespace esrun {
namespace {

const bool registered = schedules().add(
    "cosine", "linear warm-up over warmup_epochs, then cosine decay to min_lr",
    [](const ScheduleOptions& o, double lr, double epochs) { return warmup_then_decay(o, lr, epochs, cosine_interpolate); },
    {.reads = {"schedule.warmup_epochs", "schedule.min_lr"}});

}  // namespace
}  // namespace esrun
