#include "esrun/optim/optimizer.h"

namespace esrun {
namespace {

const bool registered = optimizers().add(
    "adam", "Adam (Kingma & Ba 2015) with L2 weight decay added to the gradient",
    [](const OptimizerOptions& o, std::vector<torch::Tensor> params) -> std::unique_ptr<torch::optim::Optimizer> {
      return std::make_unique<torch::optim::Adam>(
          std::move(params),
          torch::optim::AdamOptions(o.lr).betas({o.beta1, o.beta2}).eps(o.eps).weight_decay(o.weight_decay));
    },
    {.reads = {"optimizer.betas", "optimizer.eps"}});

}  // namespace
}  // namespace esrun
