#include "esrun/commands/list.h"

#include <iomanip>
#include <sstream>
#include <utility>

#include "esrun/core/error.h"
#include "esrun/core/registry.h"

namespace esrun {

std::string list_registered(const std::string& kind) {
  static const std::pair<const char*, const char*> lists[] = {
      {"models", "model"},     {"datasets", "dataset"},     {"tasks", "task"},         {"samplers", "sampler"},
      {"scorers", "scorer"},   {"optimizers", "optimizer"}, {"schedules", "schedule"}};
  std::ostringstream out;
  bool found = false;
  for (const auto& [name, registry] : lists) {
    if (!kind.empty() && kind != name) continue;
    found = true;
    out << name << ":\n";
    for (const auto& entry : registry_of(registry).entries())
      out << "  " << std::left << std::setw(18) << entry.name << " " << entry.help << "\n";
  }
  ESRUN_CHECK(found, "unknown list '", kind, "'; known: models, datasets, tasks, samplers, scorers, optimizers, schedules");
  return out.str();
}

}  // namespace esrun
