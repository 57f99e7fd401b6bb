// el2n (Paul et al. 2021, "Deep Learning on a Data Diet"): the L2 norm of the error vector,
// ||softmax(f(x)) - onehot(y)||_2, of the model after score.epoch epochs on the un-augmented sample
// in eval mode; averaged over score.repeats independently initialised models (the paper: 10, at
// epoch 20 of 200 on CIFAR-10). High = hard.
#include "esrun/scoring/scorer.h"
#include "esrun/train/trainer.h"

namespace esrun {
namespace {

class El2n final : public Scorer {
 public:
  using Scorer::Scorer;

  torch::Tensor score(Trainer& trainer, const torch::Tensor& rows) override {
    const RowOutputs r = forward_rows(trainer, rows, config().score.batch, false);
    if (!r.outputs.defined()) return {};  // stopped
    const auto p = torch::softmax(r.outputs, 1);
    const auto y = torch::one_hot(r.targets.to(p.device()), p.size(1)).to(p.scalar_type());
    return (p - y).norm(2, 1).to(torch::kCPU, torch::kDouble);
  }
};

const bool registered = scorers().add_type<El2n>(
    "el2n", "||softmax(f(x)) - onehot(y)||_2 at score.epoch, averaged over score.repeats (Paul et al. 2021)");

}  // namespace
}  // namespace esrun
