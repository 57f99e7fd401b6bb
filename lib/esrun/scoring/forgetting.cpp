// forgetting (Toneva et al. 2019): the number of forgetting events of each sample over the scoring
// run's score.epoch epochs: a presentation in a training step classified wrongly right after one
// classified correctly (the training forward, augmented, as in the paper). Samples never classified
// correctly count as forgotten most ("infinitely often" in the paper): they score one more than the
// most forgotten learned sample. Unforgotten samples score 0 and rank last. High = hard.
#include "esrun/scoring/scorer.h"
#include "esrun/train/trainer.h"

namespace esrun {
namespace {

class Forgetting final : public Scorer {
 public:
  using Scorer::Scorer;

  bool counts_training() const override { return true; }
  ScorerNeeds needs() const override { return ScorerNeeds{true, false, false}; }

  void start(int64_t train_size, torch::Device device) override {
    events_ = torch::zeros({train_size}, torch::TensorOptions(torch::kLong).device(device));
    last_ = torch::zeros_like(events_, torch::kBool);
    learned_ = torch::zeros_like(events_, torch::kBool);
  }

  void observe(const Observation& o) override {
    if (!o.trained || o.indices.numel() == 0) return;
    const auto rows = o.indices.to(events_.device());
    const auto correct = o.correct.to(events_.device(), torch::kBool);
    events_.index_add_(0, rows, (last_.index_select(0, rows) & ~correct).to(torch::kLong));
    last_.index_put_({rows}, correct);
    learned_.index_put_({rows}, learned_.index_select(0, rows) | correct);
  }

  torch::Tensor score(Trainer& /*trainer*/, const torch::Tensor& rows) override {
    const auto all = rows.to(torch::kCPU, torch::kLong);
    const auto events = events_.cpu().index_select(0, all).to(torch::kDouble);
    const auto learned = learned_.cpu().index_select(0, all);
    const double most = learned.any().item<bool>() ? events.masked_select(learned).max().item<double>() : 0.0;
    return torch::where(learned, events, torch::full_like(events, most + 1.0));
  }

  void save(torch::serialize::OutputArchive& archive) const override {
    archive.write("forgetting_events", events_.cpu());
    archive.write("forgetting_last", last_.cpu());
    archive.write("forgetting_learned", learned_.cpu());
  }
  void load(torch::serialize::InputArchive& archive) override {
    const auto device = events_.device();
    archive.read("forgetting_events", events_);
    archive.read("forgetting_last", last_);
    archive.read("forgetting_learned", learned_);
    events_ = events_.to(device), last_ = last_.to(device), learned_ = learned_.to(device);
  }

 private:
  torch::Tensor events_, last_, learned_;  // per training row: events, last presentation correct, ever correct
};

const bool registered = scorers().add_type<Forgetting>(
    "forgetting", "forgetting events (correct -> wrong between presentations) over the scoring run (Toneva et al. 2019)");

}  // namespace
}  // namespace esrun
