#pragma once

#include <torch/torch.h>

#include <memory>
#include <vector>

#include "esrun/config/run_config.h"
#include "esrun/core/registry.h"

namespace esrun {

using OptimizerRegistry =
    Registry<std::unique_ptr<torch::optim::Optimizer>, const OptimizerOptions&, std::vector<torch::Tensor>>;
OptimizerRegistry& optimizers();

// Sets SGD's momentum, or Adam's and AdamW's beta1, in every parameter group.
void set_momentum(torch::optim::Optimizer& optimizer, double momentum);

}  // namespace esrun
