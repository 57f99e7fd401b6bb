// loss: loss-proportional sampling (Katharopoulos & Fleuret 2017, as compared in the ES paper).
// Every epoch scores each meta-batch and trains on b of its B samples drawn without replacement
// proportionally to the current losses, with a plain mean. `unbiased: true` weights each chosen
// sample by 1 / (B p_i), p_i = l_i / sum_j l_j, normalised to mean 1.
#include "esrun/sampling/policy.h"
#include "esrun/sampling/weighted.h"

namespace esrun {
namespace {

class LossSampling final : public SelectionPolicy {
 public:
  LossSampling(const SamplerOptions& options, const PolicyContext& context)
      : SelectionPolicy(context), options_(options) {}

  bool needs_scores(int64_t /*epoch*/) const override { return true; }

  Selection select(const Batch& batch, const Scores& scores) override {
    const int64_t size = batch.indices.size(0);
    const int64_t b = mini_batch_for(size, options_.resolved_mini_batch, options_.meta_batch);
    const auto l = scores.losses.to(torch::kDouble);
    const auto positions = sample_without_replacement(l, b, generator());
    if (!options_.unbiased) return Selection{positions, {}, {}};
    const auto p = l.index_select(0, positions) / l.sum().clamp_min(1e-300);
    auto weights = 1.0 / (static_cast<double>(size) * p.clamp_min(1e-300));
    weights = weights / weights.mean();
    return Selection{positions, weights.to(scores.losses.scalar_type()), {}};
  }

 private:
  SamplerOptions options_;
};

const bool registered = samplers().add_type<LossSampling>(
    "loss", "b of each meta-batch B drawn proportionally to the current losses (unbiased: importance weights)",
    {.defaults = {{"sampler.ratio", "0.25"}}, .reads = {"sampler.mini_batch", "sampler.ratio", "sampler.unbiased"}});

}  // namespace
}  // namespace esrun
