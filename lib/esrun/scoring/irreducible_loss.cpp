// irreducible_loss (RHO-LOSS, Mindermann et al. 2022): a model trained on a holdout split scores
// every other training sample with its loss on the un-augmented sample in eval mode (computed once,
// as the authors' code precomputes it). score.holdout_fraction f > 0: a seeded random f of the
// training split is the holdout (the authors' CIFAR runs hold out half); those rows are marked
// excluded, and rho_loss never trains on them. f = 0 (no holdout): two models, each trained on one
// half, score the other half, and no row is excluded. With score.repeats, each part is repeated
// with another seed and the losses averaged. Any task: the loss is the run's per-sample loss (with
// train.label_smoothing when set), the one rho_loss subtracts it from.
#include "esrun/core/rng.h"
#include "esrun/scoring/scorer.h"
#include "esrun/train/trainer.h"

namespace esrun {
namespace {

class IrreducibleLoss final : public Scorer {
 public:
  using Scorer::Scorer;

  std::vector<ScoringPart> parts(int64_t n) const override {
    auto gen = make_generator(config().data.seed, "holdout");
    const auto order = torch::randperm(n, gen, torch::kLong);
    const double f = config().score.holdout_fraction;
    const auto sorted = [](const torch::Tensor& rows) { return std::get<0>(rows.sort()); };
    std::vector<ScoringPart> out;
    if (f > 0) {
      const auto held = static_cast<int64_t>(std::llround(f * static_cast<double>(n)));
      ESRUN_CHECK(held >= 1 && held < n, context().where("score.holdout_fraction"), ": ", f, " of ", n,
                  " training samples holds out ", held, "; expected at least one sample on each side");
      const auto holdout = sorted(order.narrow(0, 0, held)), rest = sorted(order.narrow(0, held, n - held));
      for (int64_t r = 0; r < config().score.repeats; ++r) out.push_back(ScoringPart{r, holdout, rest});
    } else {
      ESRUN_CHECK(n >= 2, "irreducible_loss without a holdout needs at least 2 training samples, got ", n);
      const auto first = sorted(order.narrow(0, 0, n / 2)), second = sorted(order.narrow(0, n / 2, n - n / 2));
      for (int64_t r = 0; r < config().score.repeats; ++r) {
        out.push_back(ScoringPart{r, first, second});
        out.push_back(ScoringPart{r, second, first});
      }
    }
    return out;
  }

  ScorerNeeds needs() const override { return ScorerNeeds{false, true, false}; }

  // Chunk by chunk: a causal LM's outputs [m, L, V] never exist for all rows at once.
  torch::Tensor score(Trainer& trainer, const torch::Tensor& rows) override {
    std::vector<torch::Tensor> losses;
    const int64_t batch = config().score.batch;
    for (int64_t begin = 0; begin < rows.size(0); begin += batch) {
      const RowOutputs r = forward_rows(trainer, rows.narrow(0, begin, std::min(batch, rows.size(0) - begin)), batch, false);
      if (!r.outputs.defined()) return {};  // stopped
      torch::NoGradGuard no_grad;
      losses.push_back(trainer.task().loss(r.outputs, r.targets.to(r.outputs.device())).to(torch::kCPU, torch::kDouble));
    }
    return losses.empty() ? torch::zeros({0}, torch::kDouble) : torch::cat(losses);
  }
};

const bool registered = scorers().add_type<IrreducibleLoss>(
    "irreducible_loss", "RHO-LOSS's irreducible loss: the loss of a model trained on a holdout (score.holdout_fraction)");

}  // namespace
}  // namespace esrun
