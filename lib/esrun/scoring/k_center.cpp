// k_center (Sener & Savarese 2018, k-Center Greedy; DeepCore's kCenterGreedy with balance): within
// each class, on the penultimate-layer embeddings of the model after score.epoch epochs
// (un-augmented, eval mode), start from a seeded random sample and repeatedly pick the sample
// farthest (Euclidean) from every picked one. The score is the pick order within the class
// (1 - place / class size): keeping the highest scores keeps the greedy k-center cover.
#include "esrun/core/rng.h"
#include "esrun/core/stop.h"
#include "esrun/scoring/scorer.h"
#include "esrun/train/trainer.h"

namespace esrun {

// The greedy k-center order of the rows of `x` [m, D], starting at row `first`.
torch::Tensor k_center_order(const torch::Tensor& x_in, int64_t first) {
  const auto x = x_in.to(torch::kDouble);
  const int64_t m = x.size(0);
  auto order = torch::empty({m}, torch::kLong);
  auto nearest = torch::full({m}, std::numeric_limits<double>::infinity(), x.options());
  int64_t pick = first;
  for (int64_t t = 0; t < m; ++t) {
    if (t % 256 == 0 && stop_signal() != 0) return {};
    order[t] = pick;
    nearest = torch::minimum(nearest, (x - x[pick]).pow(2).sum(1));
    nearest[pick] = -1.0;  // picked: never again
    if (t + 1 < m) pick = nearest.argmax().item<int64_t>();
  }
  return order;
}

namespace {

class KCenter final : public Scorer {
 public:
  using Scorer::Scorer;

  ScorerNeeds needs() const override { return ScorerNeeds{true, true, true}; }

  torch::Tensor score(Trainer& trainer, const torch::Tensor& rows) override {
    auto gen = make_generator(context().seed, "k_center");
    const RowOutputs embedded = forward_rows(trainer, rows, config().score.batch, true);
    if (!embedded.embeddings.defined()) return {};  // stopped
    return per_class_pick_order(embedded, [&](const torch::Tensor& x) {
      return k_center_order(x, torch::randint(x.size(0), {1}, gen, torch::kLong).item<int64_t>());
    });
  }
};

const bool registered = scorers().add_type<KCenter>(
    "k_center", "per class, greedy k-center picks on the embeddings from a random start (pick order)");

}  // namespace
}  // namespace esrun
