// lr * gamma^(number of milestones reached); milestones are (fractional) epochs.
#include <cmath>

#include "esrun/optim/schedule.h"

namespace esrun {
namespace {

class Step final : public Schedule {
 public:
  Step(const ScheduleOptions& o, double lr) : lr_(lr), gamma_(o.gamma), milestones_(o.milestones) {}

  double lr(double progress) const override {
    const auto reached = std::upper_bound(milestones_.begin(), milestones_.end(), progress) - milestones_.begin();
    return lr_ * std::pow(gamma_, static_cast<double>(reached));
  }

 private:
  double lr_, gamma_;
  std::vector<double> milestones_;
};

const bool registered = schedules().add(
    "step", "multiply the lr by gamma at each epoch in milestones",
    [](const ScheduleOptions& o, double lr, double) -> std::unique_ptr<Schedule> { return std::make_unique<Step>(o, lr); },
    {.reads = {"schedule.milestones", "schedule.gamma"}});

}  // namespace
}  // namespace esrun
