#pragma once

#include <torch/torch.h>

namespace esrun {

// Omission's inclusion probabilities for a budget k: p_i = min(sqrt((1 - alpha) s_i + alpha mean s) / c, 1)
// with c found by bisection (on tensors, no host reads) so that sum p = k.
// `mean` is mean_j SCORE_j over the whole training set (defaults to the mean of `scores`).
torch::Tensor omission_probabilities(const torch::Tensor& scores, double budget, double alpha,
                                     const torch::Tensor& mean = {}, int iterations = 60);

}  // namespace esrun
