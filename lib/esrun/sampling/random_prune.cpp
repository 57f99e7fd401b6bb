// random_prune (Random* in InfoBatch's Table 1): each epoch keeps (1 - r) n samples chosen
// uniformly at random, no reweighting.
#include <cmath>

#include "esrun/sampling/per_sample.h"
#include "esrun/sampling/policy.h"

namespace esrun {
namespace {

class RandomPrune final : public SelectionPolicy {
 public:
  RandomPrune(const SamplerOptions& options, const PolicyContext& context)
      : SelectionPolicy(context), options_(options) {}

  EpochPlan plan_epoch(int64_t /*epoch*/) override {
    const int64_t n = context().train_size;
    const auto keep = kept_count(options_.prune_ratio, n);
    return EpochPlan{torch::randperm(n, generator(), torch::kLong).narrow(0, 0, keep).to(context().device), {}};
  }

 private:
  SamplerOptions options_;
};

const bool registered = samplers().add_type<RandomPrune>(
    "random_prune", "Random*: each epoch keep (1-r)n samples uniformly at random",
    {.defaults = {{"sampler.prune_ratio", "0.3"}}, .reads = {"sampler.prune_ratio"}});

}  // namespace
}  // namespace esrun
