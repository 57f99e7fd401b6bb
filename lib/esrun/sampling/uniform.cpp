// uniform: the baseline. Every sample once per epoch (the trainer shuffles and cuts meta-batches
// of B; sampler.drop_last drops a short last one), trained on whole, weight 1.
#include "esrun/sampling/policy.h"

namespace esrun {
namespace {

class Uniform final : public SelectionPolicy {
 public:
  Uniform(const SamplerOptions& /*options*/, const PolicyContext& context) : SelectionPolicy(context) {}
};

const bool registered = samplers().add_type<Uniform>(
    "uniform", "baseline: all n samples each epoch, shuffled, meta-batches of B trained whole");

}  // namespace
}  // namespace esrun
