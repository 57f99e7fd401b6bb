// reduced_epochs: uniform training for round((1 - r) E) epochs; the LR schedule spans the shorter
// run (the trainer builds it over the policy's epoch count).
#include <cmath>

#include "esrun/sampling/per_sample.h"
#include "esrun/sampling/policy.h"

namespace esrun {
namespace {

class ReducedEpochs final : public SelectionPolicy {
 public:
  ReducedEpochs(const SamplerOptions& options, const PolicyContext& context)
      : SelectionPolicy(context), options_(options) {}

  int64_t epochs(int64_t configured) const override {
    return std::max<int64_t>(1, kept_count(options_.prune_ratio, configured));
  }

 private:
  SamplerOptions options_;
};

const bool registered = samplers().add_type<ReducedEpochs>(
    "reduced_epochs", "uniform training for round((1-r)E) epochs, the LR schedule compressed to them",
    {.defaults = {{"sampler.prune_ratio", "0.3"}}, .reads = {"sampler.prune_ratio"}});

}  // namespace
}  // namespace esrun
