// Models map a float image batch [N, C, H, W] to logits [N, classes]. Losses are the trainer's.
#pragma once

#include <torch/torch.h>

#include <memory>

#include "esrun/config/run_config.h"
#include "esrun/core/registry.h"

namespace esrun {

class Model : public torch::nn::Module {
 public:
  virtual torch::Tensor forward(torch::Tensor x) = 0;
};

using ModelRegistry = Registry<std::shared_ptr<Model>, const ModelOptions&>;
ModelRegistry& models();

// conv3x3 (stride, padding 1, no bias) as every CIFAR model here uses it.
torch::nn::Conv2d conv3x3(int64_t in, int64_t out, int64_t stride = 1);

}  // namespace esrun
