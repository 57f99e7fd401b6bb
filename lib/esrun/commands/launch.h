// How the processes of a data-parallel run meet (torchrun, Slurm or scripts/launch), and what rank
// 0 shares with the others before they load their data.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>

#include "esrun/config/run_config.h"
#include "esrun/core/distributed.h"
#include "esrun/metrics/run_directory.h"

namespace esrun {

// The process group of a launched run, or null for a single process. Processes meet before anything
// is read or written, and refuse to go on unless they all run the same config. Each takes its GPU
// by local rank (`device` is updated).
std::shared_ptr<ProcessGroup> join_ranks(const RunConfig& config, torch::Device& device);

// Non-zero ranks train with the tokenizer rank 0 trained at start (or the run being resumed has):
// rank 0 sends its bytes through the store, and each rank gets a file of its own, to remove after
// loading its data. Rank 0 gets nullopt.
std::optional<std::filesystem::path> share_tokenizer(ProcessGroup& group, const std::optional<RunDirectory>& dir);

}  // namespace esrun
