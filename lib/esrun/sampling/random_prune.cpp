// random_prune (Random* in InfoBatch's Table 1): each epoch keeps (1 - r) n samples chosen
// uniformly at random, no reweighting.
#include <cmath>

#include "esrun/sampling/policy.h"
#include "esrun/sampling/weighted.h"

namespace esrun {
namespace {

class RandomPrune final : public SelectionPolicy {
 public:
  RandomPrune(const SamplerOptions& options, const PolicyContext& context)
      : SelectionPolicy(context), options_(options) {}

  EpochPlan plan_epoch(int64_t /*epoch*/) override {
    const int64_t n = context().train_size;
    const auto keep = static_cast<int64_t>(std::llround((1.0 - options_.prune_ratio) * static_cast<double>(n)));
    return EpochPlan{torch::randperm(n, generator(), torch::kLong).narrow(0, 0, keep).to(context().device), {}};
  }

 private:
  SamplerOptions options_;
};

const bool registered = samplers().add(
    "random_prune", "Random*: each epoch keep (1-r)n samples uniformly at random",
    [](const SamplerOptions& o, const PolicyContext& c) -> std::unique_ptr<SelectionPolicy> {
      return std::make_unique<RandomPrune>(o, c);
    });

}  // namespace
}  // namespace esrun
