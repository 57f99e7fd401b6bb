// infobatch: InfoBatch (Qin et al. 2024), with the authors' code's behaviour (docs/methods.md).
// Scores H_i start at 1. In epochs e < delta * E, the well-learned set W = {i : H_i < mean(H)} is
// thinned: exactly floor((1 - r) |W|) of W are kept, chosen uniformly without replacement, each with
// loss weight 1 / (1 - r); every other sample is kept with weight 1. From epoch ceil(delta * E) on,
// all samples with weight 1 (weights really reset: the authors' code leaves stale weights when
// delta * E is not an integer; we do not). `rescale: false` drops the 1 / (1 - r) weights (the
// paper's "soft pruning" ablation, Table 3). After training on a sample, H_i = its latest loss
// (`ema: true`: an EMA, H <- beta2 H + (1 - beta2) l, our reading of the authors' EMA variant);
// pruned samples keep stale scores.
#include <cmath>

#include "esrun/core/rng.h"
#include "esrun/sampling/per_sample.h"
#include "esrun/sampling/policy.h"

namespace esrun {
namespace {

class InfoBatch final : public SelectionPolicy {
 public:
  InfoBatch(const SamplerOptions& options, const PolicyContext& context)
      : SelectionPolicy(context),
        options_(options),
        scores_(per_sample(context, 1.0)) {}

  EpochPlan plan_epoch(int64_t epoch) override {
    if (static_cast<double>(epoch) >= options_.delta * static_cast<double>(context().epochs)) {
      return SelectionPolicy::plan_epoch(epoch);
    }
    const auto well_learned = scores_.lt(scores_.mean());
    const auto candidates = well_learned.nonzero().flatten();
    const auto others = well_learned.logical_not().nonzero().flatten();
    const auto keep = static_cast<int64_t>(std::floor((1.0 - options_.prune_ratio) * static_cast<double>(candidates.size(0))));
    const auto order = torch::randperm(candidates.size(0), generator(), torch::kLong).to(candidates.device());
    const auto kept = candidates.index_select(0, order.narrow(0, 0, keep));
    const auto weight_options = torch::TensorOptions(torch::kFloat).device(scores_.device());
    return EpochPlan{torch::cat({others, kept}),
                     torch::cat({torch::ones({others.size(0)}, weight_options),
                                 torch::full({keep}, options_.rescale ? 1.0 / (1.0 - options_.prune_ratio) : 1.0,
                                             weight_options)})};
  }

  void observe(const Observation& observation) override {
    if (!observation.trained) return;
    const auto losses = observation.losses.to(torch::kDouble);
    if (options_.ema) {
      scores_.index_copy_(0, observation.indices,
                          options_.beta2 * scores_.index_select(0, observation.indices) + (1.0 - options_.beta2) * losses);
    } else {
      scores_.index_copy_(0, observation.indices, losses);
    }
  }

  void save_state(torch::serialize::OutputArchive& archive) const override {
    archive.write("scores", scores_);
  }
  void load_state(torch::serialize::InputArchive& archive) override {
    load_tensor(archive, "scores", scores_);
  }

 private:
  SamplerOptions options_;
  torch::Tensor scores_;
};

const bool registered = samplers().add_type<InfoBatch>(
    "infobatch", "InfoBatch: prune a fraction r of the below-mean-loss samples each epoch, upweight the rest by 1/(1-r)",
    {.defaults = {{"sampler.beta2", "0.9"}, {"sampler.prune_ratio", "0.5"}}, .reads = {"sampler.beta2",
        "sampler.prune_ratio", "sampler.delta", "sampler.rescale", "sampler.ema"}});

}  // namespace
}  // namespace esrun
