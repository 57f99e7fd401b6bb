#include "esrun/commands/list.h"

#include <iomanip>
#include <sstream>
#include <utility>
#include <vector>

#include "esrun/core/error.h"
#include "esrun/data/dataset.h"
#include "esrun/models/model.h"
#include "esrun/optim/optimizer.h"
#include "esrun/optim/schedule.h"
#include "esrun/sampling/policy.h"
#include "esrun/scoring/scorer.h"
#include "esrun/tasks/task.h"

namespace esrun {

std::string list_registered(const std::string& kind) {
  const std::vector<std::pair<std::string, const RegistryView*>> all = {
      {"models", &models()}, {"datasets", &datasets()}, {"tasks", &tasks()}, {"samplers", &samplers()},
      {"scorers", &scorers()}, {"optimizers", &optimizers()}, {"schedules", &schedules()}};
  std::ostringstream out;
  bool found = false;
  for (const auto& [name, registry] : all) {
    if (!kind.empty() && kind != name) continue;
    found = true;
    out << name << ":\n";
    for (const auto& entry : registry->entries())
      out << "  " << std::left << std::setw(18) << entry.name << " " << entry.help << "\n";
  }
  ESRUN_CHECK(found, "unknown list '", kind, "'; known: models, datasets, tasks, samplers, scorers, optimizers, schedules");
  return out.str();
}

}  // namespace esrun
