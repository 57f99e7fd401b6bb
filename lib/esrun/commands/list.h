// `esrun list [kind]`: the registered names of each kind of component, with their one-line help.
#pragma once

#include <string>

namespace esrun {

// kind: models, datasets, tasks, samplers, scorers, optimizers, schedules, or empty for all.
std::string list_registered(const std::string& kind);

}  // namespace esrun
