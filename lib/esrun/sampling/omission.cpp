// omission: optimal-inspired historical weighted Bernoulli sampling (docs/methods.md "omission").
// Per trained sample g_i^2 = ||dl/dz||^2 at the logits (the step's own observation, so no scoring
// forward). A global scale G is an EMA over steps of the batch mean of g^2 (beta2 = 0.99; the first
// step sets it); SCORE_i <- beta1 SCORE_i + (1 - beta1) g_i^2 / G (beta1 = 0.9) only when sample i is
// trained; SCORE starts at 1. For a budget k:
//   p_i = min(sqrt((1 - alpha) SCORE_i + alpha mean_j SCORE_j) / c, 1),  c by bisection so sum p = k.
// level set (default): at each epoch's start over all n with k = keep * n, Bernoulli draws, the chosen
// samples shuffled into meta-batches, loss weight keep / p_i. level batch: within each meta-batch
// with k = b (b = keep * B unless mini_batch or ratio is set), loss weight (b / B) / p_i; the mean
// score mixed in is over all n samples.
#include "esrun/sampling/omission.h"

#include <cmath>

#include "esrun/core/device.h"
#include "esrun/sampling/per_sample.h"
#include "esrun/sampling/policy.h"
#include "esrun/sampling/weighted.h"

namespace esrun {

torch::Tensor omission_probabilities(const torch::Tensor& scores, double budget, double alpha, const torch::Tensor& mean,
                                     int iterations) {
  const auto q = torch::sqrt((1.0 - alpha) * scores + alpha * (mean.defined() ? mean : scores.mean()));
  if (budget >= static_cast<double>(scores.size(0))) return torch::ones_like(q);
  // f(c) = sum_i min(q_i / c, 1) does not increase with c; f(min q) = n >= k and f(sum q / k) <= k.
  auto low = q.min(), high = q.sum() / budget;
  for (int i = 0; i < iterations; ++i) {
    const auto mid = 0.5 * (low + high);
    const auto too_many = torch::clamp_max(q / mid, 1.0).sum().gt(budget);
    low = torch::where(too_many, mid, low);
    high = torch::where(too_many, high, mid);
  }
  return torch::clamp_max(q / high, 1.0);
}

namespace {

class Omission final : public SelectionPolicy {
 public:
  Omission(const SamplerOptions& options, const PolicyContext& context)
      : SelectionPolicy(context),
        options_(options),
        scores_(per_sample(context, 1.0)),
        scale_(torch::zeros({}, torch::TensorOptions(torch::kDouble).device(context.device))) {}

  EpochPlan plan_epoch(int64_t epoch) override {
    if (options_.level != "set") return SelectionPolicy::plan_epoch(epoch);
    const auto budget = options_.keep * static_cast<double>(context().train_size);
    const auto p = omission_probabilities(scores_, budget, options_.alpha);
    const auto chosen = bernoulli(p).nonzero().flatten();
    return EpochPlan{chosen, (options_.keep / p.index_select(0, chosen)).to(torch::kFloat)};
  }

  Selection select(const Batch& batch, const Scores& /*scores*/) override {
    if (options_.level != "batch") return {};
    const int64_t size = batch.indices.size(0);
    const int64_t b = mini_batch_for(size, options_.resolved_mini_batch, options_.meta_batch);
    const auto p = omission_probabilities(scores_.index_select(0, batch.indices), static_cast<double>(b), options_.alpha,
                                          scores_.mean());
    const auto positions = bernoulli(p).nonzero().flatten();
    const double rate = static_cast<double>(b) / static_cast<double>(size);
    return Selection{positions, (rate / p.index_select(0, positions)).to(torch::kFloat), {}};
  }

  void observe(const Observation& observation) override {
    if (!observation.trained || observation.indices.size(0) == 0) return;
    const auto g = observation.grad_norms.to(torch::kDouble);
    const auto batch_mean = g.mean();
    // G: EMA over steps of the batch mean; the first step (G = 0) starts it at that mean.
    scale_ = torch::where(scale_.gt(0), options_.beta2 * scale_ + (1.0 - options_.beta2) * batch_mean, batch_mean);
    const auto old = scores_.index_select(0, observation.indices);
    scores_.index_copy_(0, observation.indices, options_.beta1 * old + (1.0 - options_.beta1) * g / scale_.clamp_min(1e-12));
  }

  void save_state(torch::serialize::OutputArchive& archive) const override {
    archive.write("scores", scores_);
    archive.write("scale", scale_);
  }
  void load_state(torch::serialize::InputArchive& archive) override {
    load_tensor(archive, "scores", scores_);
    load_tensor(archive, "scale", scale_);
  }

 private:
  torch::Tensor bernoulli(const torch::Tensor& p) {
    return to_device_async(torch::rand({p.size(0)}, generator(), torch::kDouble), p.device()).lt(p);
  }

  SamplerOptions options_;
  torch::Tensor scores_, scale_;
};

const bool registered = samplers().add_type<Omission>(
    "omission", "historical weighted Bernoulli sampling by logit-gradient scores, unbiased weights (level set|batch)",
    {.defaults = {{"sampler.ratio", "sampler.keep"}, {"sampler.beta1", "0.9"}, {"sampler.beta2", "0.99"}},
        .reads = {"sampler.mini_batch", "sampler.ratio", "sampler.beta1", "sampler.beta2", "sampler.level",
        "sampler.keep", "sampler.alpha"}});

}  // namespace
}  // namespace esrun
