#include "esrun/scoring/uncertainty.h"

namespace esrun {

torch::Tensor UncertaintyScorer::score(Trainer& trainer, const torch::Tensor& rows) {
  const auto p = probabilities(trainer, rows, config().score.batch);
  return p.defined() ? formula_(p).to(torch::kCPU, torch::kDouble) : p;  // undefined: stopped
}

}  // namespace esrun
