#include "esrun/optim/schedule.h"

#include <cmath>

namespace esrun {

ScheduleRegistry& schedules() {
  static ScheduleRegistry registry("schedule");
  return registry;
}

double cosine_interpolate(double from, double to, double t) {
  return to + (from - to) * 0.5 * (1.0 + std::cos(M_PI * t));
}

}  // namespace esrun
