// Evolved Sampling, ES and ESWP (ES paper, Algorithm 1; docs/methods.md "es and eswp").
// Per-sample score s_i (initially 1/n) is a decoupled EMA of the losses. For each meta-batch with
// current losses l_i:
//   w_i = beta1 * s_i + (1 - beta1) * l_i      (Algorithm 1: w uses the score before this update)
//   s_i <- beta2 * s_i + (1 - beta2) * l_i
// Selecting epochs (E_a <= e < E - E_a) run a scoring forward and train on b of the meta-batch,
// sampled without replacement proportionally to w, with a plain mean loss. Annealing epochs train
// on whole meta-batches and update s from that step's own losses (no extra forward).
// ESWP additionally prunes at each selecting epoch's start: round((1 - r) n) samples drawn without
// replacement proportionally to s.
#include <cmath>

#include "esrun/sampling/es.h"

#include "esrun/sampling/per_sample.h"
#include "esrun/sampling/policy.h"
#include "esrun/sampling/weighted.h"

namespace esrun {

torch::Tensor decoupled_ema_update(torch::Tensor& scores, const torch::Tensor& indices, const torch::Tensor& losses,
                                   double beta1, double beta2) {
  const auto l = losses.to(torch::kDouble);
  const auto s = scores.index_select(0, indices);
  const auto w = beta1 * s + (1.0 - beta1) * l;  // Algorithm 1: w uses the score before this step's update
  scores.index_copy_(0, indices, beta2 * s + (1.0 - beta2) * l);
  return w;
}

namespace {

class EvolvedSampling final : public SelectionPolicy {
 public:
  EvolvedSampling(const SamplerOptions& options, const PolicyContext& context, bool prune)
      : SelectionPolicy(context),
        options_(options),
        prune_(prune),
        scores_(per_sample(context, 1.0 / static_cast<double>(context.train_size))) {}

  bool selecting(int64_t epoch) const {
    return epoch >= options_.anneal_epochs && epoch < context().epochs - options_.anneal_epochs;
  }

  EpochPlan plan_epoch(int64_t epoch) override {
    if (!prune_ || !selecting(epoch)) return SelectionPolicy::plan_epoch(epoch);
    return EpochPlan{sample_without_replacement(scores_, kept_count(options_.prune_ratio, context().train_size), generator()), {}};
  }

  bool needs_scores(int64_t epoch) const override { return selecting(epoch); }

  Selection select(const Batch& batch, const Scores& scores) override {
    if (!scores.defined()) return {};  // annealing: train on the whole meta-batch
    const auto weights = update(batch.indices, scores.losses);
    const int64_t b = mini_batch_for(batch.indices.size(0), options_.resolved_mini_batch, options_.meta_batch);
    return Selection{sample_without_replacement(weights, b, generator()), {}, {}};
  }

  void observe(const Observation& observation) override {
    if (observation.trained && !selecting(observation.epoch)) update(observation.indices, observation.losses);
  }

  void save_state(torch::serialize::OutputArchive& archive) const override {
    archive.write("scores", scores_);
  }

  void load_state(torch::serialize::InputArchive& archive) override {
    load_tensor(archive, "scores", scores_);
  }

 private:
  torch::Tensor update(const torch::Tensor& indices, const torch::Tensor& losses) {
    return decoupled_ema_update(scores_, indices, losses, options_.beta1, options_.beta2);
  }

  SamplerOptions options_;
  bool prune_;
  torch::Tensor scores_;
};

const bool registered_es = samplers().add_type<EvolvedSampling>(
    "es", "Evolved Sampling: b of each meta-batch B drawn proportionally to decoupled-EMA loss weights",
    {.defaults = {{"sampler.ratio", "0.25"}, {"sampler.beta1", "0.2"}, {"sampler.beta2", "0.9"}},
        .reads = {"sampler.mini_batch", "sampler.ratio", "sampler.beta1", "sampler.beta2",
        "sampler.anneal_epochs"}}, false);
const bool registered_eswp = samplers().add_type<EvolvedSampling>(
    "eswp", "ES with pruning: each selecting epoch keeps round((1-r)n) samples drawn proportionally to the scores",
    {.defaults = {{"sampler.ratio", "0.25"}, {"sampler.beta1", "0.2"}, {"sampler.beta2", "0.8"},
        {"sampler.prune_ratio", "0.2"}}, .reads = {"sampler.mini_batch", "sampler.ratio", "sampler.beta1",
        "sampler.beta2", "sampler.anneal_epochs", "sampler.prune_ratio"}}, true);

}  // namespace
}  // namespace esrun
