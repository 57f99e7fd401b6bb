#include "esrun/optim/schedule.h"

namespace esrun {
namespace {

class Constant final : public Schedule {
 public:
  explicit Constant(double lr) : lr_(lr) {}
  double lr(double) const override { return lr_; }

 private:
  double lr_;
};

const bool registered = schedules().add(
    "constant", "optimizer.lr throughout",
    [](const ScheduleOptions&, double lr, double) -> std::unique_ptr<Schedule> { return std::make_unique<Constant>(lr); });

}  // namespace
}  // namespace esrun
