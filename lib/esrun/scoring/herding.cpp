// herding (Welling 2009; Chen et al. 2010; DeepCore's Herding with balance): within each class, on
// the penultimate-layer embeddings of the model after score.epoch epochs (un-augmented, eval mode),
// greedily pick the sample that brings the mean of the picked set closest to the class mean:
// x_t = argmin over unpicked x of || (t+1) mu - (sum of picked) - x ||. The score is the pick
// order within the class (1 - place / class size), so keeping the highest scores keeps each
// class's first picks. (DeepCore's code takes the argmax of that distance; we follow the papers.)
#include "esrun/core/stop.h"
#include "esrun/scoring/scorer.h"
#include "esrun/train/trainer.h"

namespace esrun {

// The herding order of the rows of `x` [m, D].
torch::Tensor herding_order(const torch::Tensor& x_in) {
  const auto x = x_in.to(torch::kDouble);
  const int64_t m = x.size(0);
  const auto mu = x.mean(0);
  const auto squared = x.pow(2).sum(1);
  auto picked_sum = torch::zeros_like(mu);
  auto taken = torch::zeros({m}, x.options().dtype(torch::kBool));
  auto order = torch::empty({m}, torch::kLong);
  for (int64_t t = 0; t < m; ++t) {
    if (t % 256 == 0 && stop_signal() != 0) return {};
    const auto residual = static_cast<double>(t + 1) * mu - picked_sum;
    // ||r - x||^2 = ||r||^2 - 2 r.x + ||x||^2; ||r||^2 is the same for every candidate.
    const auto distance = (squared - 2.0 * x.matmul(residual)).masked_fill(taken, std::numeric_limits<double>::infinity());
    const int64_t pick = distance.argmin().item<int64_t>();
    order[t] = pick;
    taken[pick] = true;
    picked_sum += x[pick];
  }
  return order;
}

namespace {

class Herding final : public Scorer {
 public:
  using Scorer::Scorer;

  ScorerNeeds needs() const override { return ScorerNeeds{true, true, true}; }

  torch::Tensor score(Trainer& trainer, const torch::Tensor& rows) override {
    const RowOutputs embedded = forward_rows(trainer, rows, config().score.batch, true);
    return embedded.embeddings.defined() ? per_class_pick_order(embedded, herding_order) : torch::Tensor();
  }
};

const bool registered = scorers().add_type<Herding>(
    "herding", "per class, greedy picks moving the picked embeddings' mean closest to the class mean (pick order)");

}  // namespace
}  // namespace esrun
