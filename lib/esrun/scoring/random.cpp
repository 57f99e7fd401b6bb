// random (the Random row of InfoBatch's Table 1 as a static baseline): a seeded uniform score in
// [0, 1) per sample, so static_prune keeps a random subset fixed for the whole run. No model.
#include "esrun/core/rng.h"
#include "esrun/scoring/scorer.h"

namespace esrun {
namespace {

class RandomScores final : public Scorer {
 public:
  using Scorer::Scorer;

  std::vector<ScoringPart> parts(int64_t /*n*/) const override { return {ScoringPart{}}; }
  bool trains() const override { return false; }
  ScorerNeeds needs() const override { return ScorerNeeds{false, false, false}; }

  torch::Tensor score(Trainer& /*trainer*/, const torch::Tensor& rows) override {
    auto gen = make_generator(context().seed, "random_scores");
    return torch::rand({rows.size(0)}, gen, torch::kDouble);
  }
};

const bool registered = scorers().add_type<RandomScores>(
    "random", "a seeded uniform score per sample: static_prune keeps a fixed random subset");

}  // namespace
}  // namespace esrun
