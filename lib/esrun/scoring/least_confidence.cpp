// least_confidence (DeepCore's Uncertainty, Coleman et al. 2020): 1 - max_k softmax(f(x))_k of the
// model after score.epoch epochs on the un-augmented sample in eval mode. High = uncertain = hard;
// keeping the highest keeps the least confident, as DeepCore's class-balanced selection does.
#include "esrun/scoring/scorer.h"
#include "esrun/train/trainer.h"

namespace esrun {
namespace {

class LeastConfidence final : public Scorer {
 public:
  using Scorer::Scorer;

  torch::Tensor score(Trainer& trainer, const torch::Tensor& rows) override {
    const auto p = probabilities(trainer, rows, config().score.batch);
    return p.defined() ? (1.0 - std::get<0>(p.max(1))).to(torch::kCPU, torch::kDouble) : p;
  }
};

const bool registered = scorers().add(
    "least_confidence", "1 - the largest softmax probability at score.epoch (DeepCore's Uncertainty)",
    [](const ScorerContext& c) -> std::unique_ptr<Scorer> { return std::make_unique<LeastConfidence>(c); });

}  // namespace
}  // namespace esrun
