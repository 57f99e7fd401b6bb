// entropy (DeepCore's Uncertainty): -sum_k p_k log p_k of the softmax of the model after
// score.epoch epochs on the un-augmented sample in eval mode. High = uncertain = hard.
#include "esrun/scoring/scorer.h"
#include "esrun/train/trainer.h"

namespace esrun {
namespace {

class Entropy final : public Scorer {
 public:
  using Scorer::Scorer;

  torch::Tensor score(Trainer& trainer, const torch::Tensor& rows) override {
    const auto p = probabilities(trainer, rows, config().score.batch);
    return p.defined() ? -(p * p.clamp_min(1e-30).log()).sum(1).to(torch::kCPU, torch::kDouble) : p;
  }
};

const bool registered = scorers().add(
    "entropy", "-sum p log p of the softmax at score.epoch (DeepCore's Uncertainty)",
    [](const ScorerContext& c) -> std::unique_ptr<Scorer> { return std::make_unique<Entropy>(c); });

}  // namespace
}  // namespace esrun
