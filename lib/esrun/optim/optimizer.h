#pragma once

#include <torch/torch.h>

#include <memory>
#include <vector>

#include "esrun/config/run_config.h"
#include "esrun/core/registry.h"
#include "esrun/models/model.h"

namespace esrun {

using OptimizerRegistry =
    Registry<std::unique_ptr<torch::optim::Optimizer>, const OptimizerOptions&, std::vector<torch::Tensor>>;
OptimizerRegistry& optimizers();

// The configured optimizer over the model's trainable parameters (frozen ones left out). With
// optimizer.no_decay_bias_norm (auto: the model's default) biases, normalisation weights (every
// tensor of dimension <= 1) and the model's no_decay_parameters() form a group with weight decay
// 0; parameters with their own Model::lr_scale form groups of their own. `where` names the key.
std::unique_ptr<torch::optim::Optimizer> make_optimizer(const OptimizerOptions& options, const std::string& where,
                                                        const Model& model);
// The learning-rate scale of each of the optimizer's groups (Model::lr_scale of its parameters).
std::vector<double> group_lr_scales(const torch::optim::Optimizer& optimizer, const Model& model);

// Sets SGD's momentum, or Adam's and AdamW's beta1, in every parameter group.
void set_momentum(torch::optim::Optimizer& optimizer, double momentum);

// Scales the gradients so that their global L2 norm is at most max_norm, as
// torch.nn.utils.clip_grad_norm_ (coefficient max_norm / (norm + 1e-6), capped at 1). The norm stays
// on the device: unlike libtorch's clip_grad_norm_, which returns it as a double, no host read.
void clip_grad_norm(const std::vector<torch::Tensor>& parameters, double max_norm);

}  // namespace esrun
