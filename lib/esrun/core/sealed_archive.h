// The format of the archives esrun writes and later reads back (checkpoints, scores files): the
// bytes of a libtorch archive followed by a trailer "esrun-fnv1a64:<16 hex digits>", the FNV-1a 64
// checksum of every byte before it, so that a damaged byte anywhere in the file (the archive's
// data or its zip structure) is found when it is opened, not used, and no damaged bytes ever
// reach libtorch's reader. A file without the trailer is refused.
#pragma once

#include <torch/torch.h>

#include <optional>
#include <string>

namespace esrun {

// The bytes of the file holding `archive`.
std::string seal_archive(torch::serialize::OutputArchive& archive);

// The archive `file` holds, its checksum checked. `what` names it in errors ("the checkpoint"):
// a missing, truncated or corrupt file, one whose checksum does not match, or one that is no
// archive, is an esrun::Error "<what> '<file>' is damaged (truncated or corrupt)...: <why>".
torch::serialize::InputArchive open_sealed_archive(const std::string& file, const std::string& what,
                                                   std::optional<torch::Device> device = {});

}  // namespace esrun
