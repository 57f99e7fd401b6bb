// ka: KAKURENBO (Thao Nguyen et al. 2023, docs/methods.md). Each epoch the hide budget is
// F_e = F * {1.0, 0.8, 0.6, 0.4} over the 0-30%, 30-60%, 60-80%, 80-100% parts of training (the
// authors' 60/120/160 of 200 epochs). Candidates are the F_e n samples with the lowest last loss;
// a candidate is hidden only if its last prediction was correct with a largest softmax probability
// (over classes; the authors' code takes it over the batch, a bug we do not copy) of at least 0.7.
// The learning rate is multiplied by 1 / (1 - hidden fraction). After the epoch the hidden samples
// pass forward once (no gradient, counted in the time) to refresh their loss and prediction; the
// pass is the trainer's scoring forward: augmented inputs, training-mode BatchNorm with its running
// statistics left unchanged.
// Samples never seen are never hidden.
#include <cmath>
#include <limits>

#include "esrun/core/rng.h"
#include "esrun/sampling/per_sample.h"
#include "esrun/sampling/policy.h"

namespace esrun {
namespace {

class Kakurenbo final : public SelectionPolicy {
 public:
  Kakurenbo(const SamplerOptions& options, const PolicyContext& context)
      : SelectionPolicy(context),
        options_(options),
        loss_(per_sample(context, std::numeric_limits<double>::infinity())),
        correct_(per_sample(context, 0.0, torch::kBool)),
        confidence_(per_sample(context, 0.0)) {}

  double budget(int64_t epoch) const {
    const double progress = static_cast<double>(epoch) / static_cast<double>(context().epochs);
    const double factor = progress < 0.3 ? 1.0 : progress < 0.6 ? 0.8 : progress < 0.8 ? 0.6 : 0.4;
    return options_.hide_fraction * factor;
  }

  EpochPlan plan_epoch(int64_t epoch) override {
    const int64_t n = context().train_size;
    const auto candidates_count = static_cast<int64_t>(std::llround(budget(epoch) * static_cast<double>(n)));
    auto hide = torch::zeros({n}, torch::TensorOptions(torch::kBool).device(loss_.device()));
    if (candidates_count > 0) {
      const auto candidates = std::get<1>(loss_.topk(candidates_count, 0, /*largest=*/false));
      const auto confident = correct_.index_select(0, candidates) &
                             confidence_.index_select(0, candidates).ge(options_.confidence) &
                             loss_.index_select(0, candidates).isfinite();
      hide.index_put_({candidates.masked_select(confident)}, true);
    }
    hidden_ = hide.nonzero().flatten();
    // One host read per epoch: the LR multiplier needs the hidden count.
    hidden_fraction_ = static_cast<double>(hidden_.size(0)) / static_cast<double>(n);
    return EpochPlan{hide.logical_not().nonzero().flatten(), {}};
  }

  double lr_scale(int64_t /*epoch*/) const override { return 1.0 / (1.0 - hidden_fraction_); }

  void observe(const Observation& observation) override {
    const auto& i = observation.indices;
    loss_.index_copy_(0, i, observation.losses.to(torch::kDouble));
    correct_.index_copy_(0, i, observation.correct);
    confidence_.index_copy_(0, i, observation.confidence.to(torch::kDouble));
  }

  torch::Tensor refresh_indices(int64_t /*epoch*/) override { return hidden_; }

  void save_state(torch::serialize::OutputArchive& archive) const override {
    archive.write("loss", loss_);
    archive.write("correct", correct_);
    archive.write("confidence", confidence_);
    archive.write("hidden", hidden_.defined() ? hidden_ : torch::empty({0}, torch::kLong));
    archive.write("hidden_fraction", torch::tensor(hidden_fraction_, torch::kDouble));
  }
  void load_state(torch::serialize::InputArchive& archive) override {
    load_tensor(archive, "loss", loss_);
    load_tensor(archive, "correct", correct_);
    load_tensor(archive, "confidence", confidence_);
    torch::Tensor hidden, fraction;
    archive.read("hidden", hidden);
    archive.read("hidden_fraction", fraction);
    hidden_ = hidden.to(loss_.device());
    hidden_fraction_ = fraction.item<double>();
  }

 private:
  SamplerOptions options_;
  torch::Tensor loss_, correct_, confidence_, hidden_;
  double hidden_fraction_ = 0.0;
};

const bool registered = samplers().add_type<Kakurenbo>(
    "ka", "KAKURENBO: hide low-loss, confidently correct samples (up to F of the data), scale the lr up to match",
    {.reads = {"sampler.hide_fraction", "sampler.confidence"}});

}  // namespace
}  // namespace esrun
