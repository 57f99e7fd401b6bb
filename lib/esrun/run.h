// The library entry points the esrun command calls, and the tests call in-process.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "esrun/config/run_config.h"

namespace esrun {

struct RunRequest {
  std::vector<std::string> configs;  // --config files, in order
  std::vector<std::string> sets;     // --set key.path=value, in order
  std::optional<std::string> out;    // --out DIR
};

struct RunResult {
  std::filesystem::path run_dir;
  nlohmann::json summary;
};

// Resolves and validates the configuration (everything checked before any data is loaded).
RunConfig load_config(const RunRequest& request);

// Trains the configured experiment and writes its run directory.
RunResult run(const RunRequest& request);

// `esrun list [kind]`: registered names with their one-line help; kind is models, datasets,
// samplers, optimizers, schedules, or empty for all.
std::string list_registered(const std::string& kind);

}  // namespace esrun
