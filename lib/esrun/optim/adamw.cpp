#include "esrun/optim/optimizer.h"

namespace esrun {
namespace {

const bool registered = optimizers().add(
    "adamw", "AdamW (Loshchilov & Hutter 2019): Adam with decoupled weight decay",
    [](const OptimizerOptions& o, std::vector<torch::Tensor> params) -> std::unique_ptr<torch::optim::Optimizer> {
      return std::make_unique<torch::optim::AdamW>(
          std::move(params),
          torch::optim::AdamWOptions(o.lr).betas({o.beta1, o.beta2}).eps(o.eps).weight_decay(o.weight_decay));
    },
    {.reads = {"optimizer.betas", "optimizer.eps"}});

}  // namespace
}  // namespace esrun
