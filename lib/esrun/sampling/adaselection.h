#pragma once

#include <torch/torch.h>

#include <string>

namespace esrun {

// One AdaSelection candidate's importances alpha^m over a meta-batch's losses (METHODS.md).
torch::Tensor adaselection_importance(const std::string& method, const torch::Tensor& losses,
                                      const torch::Tensor& grad_norms, int64_t k);

}  // namespace esrun
