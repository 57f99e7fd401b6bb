#include "esrun/optim/optimizer.h"

namespace esrun {
namespace {

const bool registered = optimizers().add(
    "sgd", "SGD with momentum, optional Nesterov, L2 weight decay (the papers' CIFAR setting)",
    [](const OptimizerOptions& o, std::vector<torch::Tensor> params) -> std::unique_ptr<torch::optim::Optimizer> {
      return std::make_unique<torch::optim::SGD>(
          std::move(params),
          torch::optim::SGDOptions(o.lr).momentum(o.momentum).nesterov(o.nesterov).weight_decay(o.weight_decay));
    },
    {.reads = {"optimizer.momentum", "optimizer.nesterov"}});

}  // namespace
}  // namespace esrun
