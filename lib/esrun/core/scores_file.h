// The scores file: one score per training sample, written by `esrun score` and read by the
// policies that prune or select with precomputed scores (static_prune, rho_loss). A file is
// refused for any training split but the one it was made for (DataIdentity). It is read and
// checked where a run is wired; a policy receives the checked file through its context.
#pragma once

#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>

namespace esrun {

// What identifies a training split: a scores file made from it names it, and a run checks it.
struct DataIdentity {
  std::string dataset;
  int64_t train_size = 0;
  std::string checksum;  // FNV-1a 64 of the split's source indices and targets, hex
};
nlohmann::json to_json(const DataIdentity& data);

struct ScoresFile {
  torch::Tensor scores;    // double [n], one per training sample, finite
  torch::Tensor excluded;  // bool [n]: rows the scoring trained on that a selection must leave out (a holdout)
  nlohmann::json meta;     // method, data, config_hash, epoch, repeats, parts, wall_time_s, ... (docs/scoring.md)
};

// Writes atomically (a temporary file renamed), so an interrupted write never leaves half a file.
void write_scores(const std::filesystem::path& file, const ScoresFile& scores);
// Reads the scores file `file` (named by the config key `where`) for a run on the training split
// `data`: a missing or unreadable file, one made for another split (both named), one of another
// size or with non-finite scores is an error.
ScoresFile read_scores(const std::string& file, const std::string& where, const DataIdentity& data);

}  // namespace esrun
