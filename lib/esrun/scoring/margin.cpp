// margin (DeepCore's Uncertainty): 1 - (p_(1) - p_(2)), one minus the gap between the two largest
// softmax probabilities of the model after score.epoch epochs on the un-augmented sample in eval
// mode. High = a small margin = hard.
#include <algorithm>

#include "esrun/scoring/uncertainty.h"

namespace esrun {
namespace {

torch::Tensor margin(const torch::Tensor& p) {
  const auto top = std::get<0>(p.topk(std::min<int64_t>(2, p.size(1)), 1));
  // One class has no second largest: its gap is its own probability.
  const auto gap = top.size(1) > 1 ? top.select(1, 0) - top.select(1, 1) : top.select(1, 0);
  return 1.0 - gap;
}

const bool registered = scorers().add_type<UncertaintyScorer>(
    "margin", "1 - (largest - second largest softmax probability) at score.epoch (DeepCore's Uncertainty)", {},
    margin);

}  // namespace
}  // namespace esrun
