// margin (DeepCore's Uncertainty): 1 - (p_(1) - p_(2)), one minus the gap between the two largest
// softmax probabilities of the model after score.epoch epochs on the un-augmented sample in eval
// mode. High = a small margin = hard.
#include "esrun/scoring/scorer.h"
#include "esrun/train/trainer.h"

namespace esrun {
namespace {

class Margin final : public Scorer {
 public:
  using Scorer::Scorer;

  torch::Tensor score(Trainer& trainer, const torch::Tensor& rows) override {
    const auto p = probabilities(trainer, rows, config().score.batch);
    if (!p.defined()) return p;  // stopped
    const auto top = std::get<0>(p.topk(std::min<int64_t>(2, p.size(1)), 1));
    const auto gap = top.size(1) > 1 ? top.select(1, 0) - top.select(1, 1) : top.select(1, 0);
    return (1.0 - gap).to(torch::kCPU, torch::kDouble);
  }
};

const bool registered = scorers().add(
    "margin", "1 - (largest - second largest softmax probability) at score.epoch (DeepCore's Uncertainty)",
    [](const ScorerContext& c) -> std::unique_ptr<Scorer> { return std::make_unique<Margin>(c); });

}  // namespace
}  // namespace esrun
