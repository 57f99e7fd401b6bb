// What the policies keep per sample and count of the training split, in one place each.
#pragma once

#include <torch/torch.h>

#include <cstdint>

#include "esrun/sampling/policy.h"

namespace esrun {

// A per-sample state column of the training split (n rows on the policy's device) filled with `value`.
torch::Tensor per_sample(const PolicyContext& context, double value, torch::ScalarType type = torch::kDouble);

// The samples a prune ratio r keeps of n: round((1 - r) n), as ESWP, Random*, UCB, static pruning
// and reduced epochs (of epochs) count them (docs/methods.md).
int64_t kept_count(double prune_ratio, int64_t n);

}  // namespace esrun
