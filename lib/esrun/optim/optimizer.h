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

}  // namespace esrun
