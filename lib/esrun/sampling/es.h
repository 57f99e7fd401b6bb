#pragma once

#include <torch/torch.h>

namespace esrun {

// ES Algorithm 1, one meta-batch: returns w = beta1 * s + (1 - beta1) * l from the scores before
// this update, then sets s <- beta2 * s + (1 - beta2) * l at `indices` (float64 scores).
torch::Tensor decoupled_ema_update(torch::Tensor& scores, const torch::Tensor& indices, const torch::Tensor& losses,
                                   double beta1, double beta2);

}  // namespace esrun
