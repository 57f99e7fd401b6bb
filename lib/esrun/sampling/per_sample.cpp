#include "esrun/sampling/per_sample.h"

#include <cmath>

namespace esrun {

torch::Tensor per_sample(const PolicyContext& context, double value, torch::ScalarType type) {
  return torch::full({context.train_size}, value, torch::TensorOptions(type).device(context.device));
}

int64_t kept_count(double prune_ratio, int64_t n) {
  return static_cast<int64_t>(std::llround((1.0 - prune_ratio) * static_cast<double>(n)));
}

}  // namespace esrun
