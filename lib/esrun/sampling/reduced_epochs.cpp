// reduced_epochs: uniform training for round((1 - r) E) epochs; the LR schedule spans the shorter
// run (the trainer builds it over the policy's epoch count).
#include <cmath>

#include "esrun/sampling/policy.h"

namespace esrun {
namespace {

class ReducedEpochs final : public SelectionPolicy {
 public:
  ReducedEpochs(const SamplerOptions& options, const PolicyContext& context)
      : SelectionPolicy(context), options_(options) {}

  int64_t epochs(int64_t configured) const override {
    return std::max<int64_t>(1, std::llround((1.0 - options_.prune_ratio) * static_cast<double>(configured)));
  }

 private:
  SamplerOptions options_;
};

const bool registered = samplers().add(
    "reduced_epochs", "uniform training for round((1-r)E) epochs, the LR schedule compressed to them",
    [](const SamplerOptions& o, const PolicyContext& c) -> std::unique_ptr<SelectionPolicy> {
      return std::make_unique<ReducedEpochs>(o, c);
    });

}  // namespace
}  // namespace esrun
