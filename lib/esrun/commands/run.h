// `esrun run` (the default command): trains the configured experiment and writes its run
// directory. The esrun command calls it, and the tests call it in-process.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "esrun/config/run_config.h"
#include "esrun/sampling/policy.h"

namespace esrun {

class Trainer;

// What `esrun score` adds to a run (commands/score.h): the policy its scoring model trains with, a
// check of the trainer before training, the epoch after which training ends (the LR schedule still
// spans the policy's epochs), and what is done with the trained model then (after summary.json is
// written, which it is given).
struct RunStage {
  PolicyFactory policy;
  std::function<void(Trainer&)> start;
  int64_t epochs = 0;
  std::function<void(Trainer&, const nlohmann::json& summary)> finish;
};

struct RunRequest {
  RunRequest() = default;
  RunRequest(std::vector<std::string> configs_, std::vector<std::string> sets_, std::optional<std::string> out_)
      : configs(std::move(configs_)), sets(std::move(sets_)), out(std::move(out_)) {}

  std::vector<std::string> configs;  // --config files, in order
  std::vector<std::string> sets;     // --set key.path=value, in order
  std::optional<std::string> out;    // --out DIR
  std::optional<std::string> resume; // --resume RUN_DIR: continue from its checkpoints/last.pt
  std::optional<int64_t> stop_after; // --stop-after-epochs N: checkpoint and stop after N epochs of this invocation
  // Stop as a signal would, after this many meta-batch steps of this invocation (mid-epoch
  // checkpoint); for tests of the graceful stop. Not on the command line.
  std::optional<int64_t> stop_after_steps;
  std::optional<RunStage> stage;
};

struct RunResult {
  std::filesystem::path run_dir;
  nlohmann::json summary;  // empty when the run stopped early
  bool finished = true;
  int stop_signal = 0;     // the signal that stopped it (after its checkpoint), or 0
};

// Resolves and validates the configuration (everything checked before any data is loaded).
RunConfig load_config(const RunRequest& request);

// Trains the configured experiment and writes its run directory.
RunResult run(const RunRequest& request);

}  // namespace esrun
