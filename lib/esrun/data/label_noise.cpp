#include "esrun/data/label_noise.h"

#include <cmath>

#include "esrun/core/torch_compat.h"

namespace esrun {

NoisyLabels corrupt_labels(const torch::Tensor& labels, int64_t num_classes, const LabelNoiseOptions& options) {
  const int64_t n = labels.size(0);
  const auto count = static_cast<int64_t>(std::llround(options.ratio * static_cast<double>(n)));
  auto gen = compat::make_cpu_generator(options.seed);
  const auto chosen = torch::randperm(n, gen, torch::kLong).narrow(0, 0, count);
  auto out = labels.clone();
  const auto original = labels.index_select(0, chosen);
  torch::Tensor replaced;
  if (options.kind == NoiseKind::Flip) {
    replaced = (original + 1).remainder(num_classes);
  } else {
    // original + U{1..K-1} mod K is uniform over the other K - 1 classes.
    const auto shift = torch::randint(1, num_classes, {count}, gen, torch::kLong);
    replaced = (original + shift).remainder(num_classes);
  }
  out.index_copy_(0, chosen, replaced);
  auto mask = torch::zeros({n}, torch::kBool);
  mask.index_fill_(0, chosen, true);
  return {out, mask};
}

}  // namespace esrun
