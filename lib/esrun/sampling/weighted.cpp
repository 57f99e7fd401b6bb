#include "esrun/sampling/weighted.h"

#include <cmath>

#include "esrun/core/device.h"

namespace esrun {

torch::Tensor sample_without_replacement(const torch::Tensor& weights, int64_t k, at::Generator& gen) {
  const int64_t n = weights.size(0);
  k = std::min(k, n);
  // U in (0, 1) strictly: -log(-log(U)) is finite.
  const auto uniform = to_device_async(torch::rand({n}, gen, torch::kDouble).clamp_(1e-300, 1.0 - 1e-16), weights.device());
  const auto gumbel = -torch::log(-torch::log(uniform));
  const auto keys = torch::log(weights.to(torch::kDouble) + 1e-300) + gumbel;
  return std::get<1>(keys.topk(k, 0, /*largest=*/true, /*sorted=*/false));
}

int64_t mini_batch_for(int64_t size, int64_t mini_batch, int64_t meta_batch) {
  if (size >= meta_batch) return mini_batch;
  const auto scaled = std::llround(static_cast<double>(mini_batch) * static_cast<double>(size) / static_cast<double>(meta_batch));
  return std::max<int64_t>(1, std::min<int64_t>(size, scaled));
}

}  // namespace esrun
