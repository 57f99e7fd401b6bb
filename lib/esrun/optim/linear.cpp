// Linear warm-up from 0 over warmup_epochs, then linear decay to min_lr at the end of training:
// the schedule of BERT, ALBERT and ViT fine-tuning (Hugging Face's get_linear_schedule_with_warmup
// with min_lr = 0).
#include "esrun/optim/schedule.h"

namespace esrun {
namespace {

const bool registered = schedules().add(
    "linear", "linear warm-up over warmup_epochs, then linear decay to min_lr (BERT/ViT fine-tuning)",
    [](const ScheduleOptions& o, double lr, double epochs) {
      return warmup_then_decay(o, lr, epochs, [](double from, double to, double t) { return from + (to - from) * t; });
    },
    {.reads = {"schedule.warmup_epochs", "schedule.min_lr"}});

}  // namespace
}  // namespace esrun
