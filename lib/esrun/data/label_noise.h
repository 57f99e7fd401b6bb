// Label noise on the training split (ES paper Section 4.2, docs/methods.md): round(ratio * n) samples
// chosen uniformly without replacement; `uniform` gives each a label drawn uniformly from the
// other K - 1 classes, `flip` maps class c to (c + 1) mod K.
#pragma once

#include <torch/torch.h>

#include "esrun/config/run_config.h"

namespace esrun {

struct NoisyLabels {
  torch::Tensor labels;  // int64 [n]
  torch::Tensor mask;    // bool [n], true where the label was corrupted
};

NoisyLabels corrupt_labels(const torch::Tensor& labels, int64_t num_classes, const LabelNoiseOptions& options);

}  // namespace esrun
