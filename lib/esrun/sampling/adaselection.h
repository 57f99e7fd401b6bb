#pragma once

#include <torch/torch.h>

#include <string>

namespace esrun {

// One AdaSelection candidate's importances alpha^m over a meta-batch's losses (docs/methods.md);
// `grad_norms` are the squared logit-gradient norms g^2 that Scores carries.
torch::Tensor adaselection_importance(const std::string& method, const torch::Tensor& losses,
                                      const torch::Tensor& grad_norms, int64_t k);

}  // namespace esrun
