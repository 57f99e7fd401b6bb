// uniform: the baseline. Every sample once per epoch (the trainer shuffles and cuts meta-batches
// of B; sampler.drop_last drops a short last one), trained on whole, weight 1.
#include "esrun/sampling/policy.h"

namespace esrun {
namespace {

class Uniform final : public SelectionPolicy {
 public:
  using SelectionPolicy::SelectionPolicy;
};

const bool registered = samplers().add(
    "uniform", "baseline: all n samples each epoch, shuffled, meta-batches of B trained whole",
    [](const SamplerOptions&, const PolicyContext& context) -> std::unique_ptr<SelectionPolicy> {
      return std::make_unique<Uniform>(context);
    });

}  // namespace
}  // namespace esrun
