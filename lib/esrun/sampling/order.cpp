// order: Ordered SGD (Kawaguchi & Lu 2020). Trains on the q largest losses of each scored
// meta-batch, q = b. With adaptive_q (the authors' code) q shrinks with the previous epoch's
// training accuracy: >= 80% -> b/2, >= 90% -> b/4, >= 95% -> b/8. The accuracy is measured on the
// whole scored meta-batch, as the authors' code measures it on the whole batch forward; q follows
// each epoch's accuracy (our reading: it can grow back if the accuracy falls).
#include "esrun/sampling/policy.h"
#include "esrun/sampling/weighted.h"

namespace esrun {
namespace {

class OrderedSgd final : public SelectionPolicy {
 public:
  OrderedSgd(const SamplerOptions& options, const PolicyContext& context)
      : SelectionPolicy(context),
        options_(options),
        correct_(torch::zeros({}, torch::TensorOptions(torch::kDouble).device(context.device))) {}

  EpochPlan plan_epoch(int64_t epoch) override {
    if (epoch != epoch_) {
      // One host read per epoch: the accuracy accumulated on the device during the last one.
      const double seen = static_cast<double>(seen_);
      previous_accuracy_ = seen_ > 0 ? correct_.item<double>() / seen : 0.0;
      correct_.zero_();
      seen_ = 0;
      epoch_ = epoch;
    }
    return SelectionPolicy::plan_epoch(epoch);
  }

  bool needs_scores(int64_t /*epoch*/) const override { return true; }

  Selection select(const Batch& batch, const Scores& scores) override {
    int64_t q = mini_batch_for(batch.indices.size(0), options_.resolved_mini_batch, options_.meta_batch);
    if (options_.adaptive_q) {
      correct_ += scores.correct.sum();
      seen_ += scores.correct.size(0);
      const int shift = previous_accuracy_ >= 0.95 ? 3 : previous_accuracy_ >= 0.90 ? 2 : previous_accuracy_ >= 0.80 ? 1 : 0;
      q = std::max<int64_t>(1, q >> shift);
    }
    return Selection{std::get<1>(scores.losses.topk(q)), {}, {}};
  }

  void save_state(torch::serialize::OutputArchive& archive) const override {
    archive.write("state", torch::tensor({static_cast<double>(epoch_), previous_accuracy_, correct_.item<double>(),
                                          static_cast<double>(seen_)}, torch::kDouble));
  }

  void load_state(torch::serialize::InputArchive& archive) override {
    torch::Tensor state;
    archive.read("state", state);
    epoch_ = static_cast<int64_t>(state[0].item<double>());
    previous_accuracy_ = state[1].item<double>();
    correct_.fill_(state[2].item<double>());
    seen_ = static_cast<int64_t>(state[3].item<double>());
  }

 private:
  SamplerOptions options_;
  int64_t epoch_ = -1;
  double previous_accuracy_ = 0.0;
  torch::Tensor correct_;  // correct predictions this epoch, on the device
  int64_t seen_ = 0;
};

const bool registered = samplers().add_type<OrderedSgd>(
    "order", "Ordered SGD: train on the b largest losses of each meta-batch B (adaptive_q shrinks b)",
    {.defaults = {{"sampler.ratio", "0.25"}}, .reads = {"sampler.mini_batch", "sampler.ratio",
        "sampler.adaptive_q"}});

}  // namespace
}  // namespace esrun
