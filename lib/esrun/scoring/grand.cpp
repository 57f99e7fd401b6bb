// grand (Paul et al. 2021): the norm of the per-sample loss gradient over every trained parameter,
// ||d loss(f(x), y) / d w||_2, of the model after score.epoch epochs (the paper: at initialisation,
// score.epoch 0, the default here) on the un-augmented sample in eval mode, averaged over
// score.repeats models. The loss is the run's per-sample loss (cross-entropy, with
// train.label_smoothing when set). One backward pass per sample: exact, and as costly as InfoBatch's
// Table 2 says. High = hard.
#include "esrun/core/stop.h"
#include "esrun/scoring/scorer.h"
#include "esrun/train/trainer.h"

namespace esrun {
namespace {

class GraNd final : public Scorer {
 public:
  using Scorer::Scorer;

  int64_t default_epoch(int64_t /*train_epochs*/) const override { return 0; }  // at initialisation

  torch::Tensor score(Trainer& trainer, const torch::Tensor& rows) override {
    Model& model = trainer.model();
    std::vector<torch::Tensor> parameters;
    for (const auto& p : model.parameters())
      if (p.requires_grad()) parameters.push_back(p);
    model.eval();
    const auto all = rows.to(torch::kCPU, torch::kLong);
    const auto& targets = trainer.data().train.targets;
    std::vector<torch::Tensor> norms;
    for (int64_t i = 0; i < all.size(0); ++i) {
      if (i % 64 == 0 && stop_signal() != 0) break;
      const auto row = all.narrow(0, i, 1);
      const auto inputs = trainer.plain_inputs(row);
      const auto target = targets.index_select(0, row.to(targets.device())).to(inputs.device());
      const auto loss = trainer.task().loss(model.forward(inputs).to(torch::kFloat), target).sum();
      const auto grads = torch::autograd::grad({loss}, parameters, {}, false, false, /*allow_unused=*/true);
      auto squared = torch::zeros({}, loss.options().dtype(torch::kDouble));
      for (const auto& g : grads)
        if (g.defined()) squared = squared + g.to(torch::kDouble).pow(2).sum();
      norms.push_back(squared.sqrt());
    }
    model.train();
    if (stop_signal() != 0) return {};
    return norms.empty() ? torch::zeros({0}, torch::kDouble) : torch::stack(norms).cpu();
  }
};

const bool registered = scorers().add_type<GraNd>(
    "grand", "||d loss / d w||_2 per sample at score.epoch (0: at init), averaged over score.repeats (Paul et al. 2021)");

}  // namespace
}  // namespace esrun
