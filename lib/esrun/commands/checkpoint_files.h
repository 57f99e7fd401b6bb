// The run's checkpoint files (checkpoints/last.pt, last.prev.pt, best.pt): the trainer's state, the
// next epoch, the config hash, the world size and the metrics so far, sealed with a checksum.
#pragma once

#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "esrun/metrics/run_directory.h"

namespace esrun {

class Trainer;

// Writes checkpoints/<file> to a temporary file renamed into place, so a crash never leaves a
// corrupt checkpoint; the previous last.pt stays as last.prev.pt. Every rank calls it (the trainer
// gathers what differs between ranks); the rank with the run directory, rank 0, writes. `records`
// and `evaluations` are the lines of metrics.jsonl and evaluations.jsonl so far.
void write_checkpoint(const std::optional<RunDirectory>& dir, const std::string& file, Trainer& trainer,
                      int64_t next_epoch, const std::string& config_hash, const std::vector<nlohmann::json>& records,
                      const std::vector<nlohmann::json>& evaluations);

// What a resumed run reads from its checkpoint.
struct Checkpoint {
  int64_t next_epoch = 0;
  std::vector<nlohmann::json> records;
  std::vector<nlohmann::json> evaluations;  // none in checkpoints of esrun before evaluations.jsonl
  int64_t world_size = 1;
  torch::serialize::InputArchive trainer;
};

Checkpoint read_checkpoint(const std::filesystem::path& file);

}  // namespace esrun
