// The checkpoint file format: a libtorch archive holding the archive of the run's state as bytes
// ("content") and their checksum ("checksum", FNV-1a 64 in hex), so that a damaged byte anywhere
// is found when the file is opened, not trained on. Files written before esrun sealed them (no
// "content") open as they are, unchecked.
#pragma once

#include <torch/torch.h>

#include <optional>
#include <string>

namespace esrun {

// The bytes of the checkpoint file holding `archive`.
std::string seal_checkpoint(torch::serialize::OutputArchive& archive);

// The archive a checkpoint file holds, its checksum checked; throws esrun::Error naming the file
// when the checksum does not match, and libtorch's error when the file is no archive.
torch::serialize::InputArchive open_checkpoint(const std::string& file, std::optional<torch::Device> device = {});

}  // namespace esrun
