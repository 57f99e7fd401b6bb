// rho_loss (RHO-LOSS, Mindermann et al. 2022): every epoch runs over the training samples the
// scores file does not exclude (the irreducible-loss model's holdout, score.holdout_fraction of the
// scoring config); each meta-batch of B is
// scored with the trainer's scoring forward and the b = ratio * B samples with the largest
// reducible loss, training loss - irreducible loss (esrun score --method irreducible_loss), are
// trained on with a plain mean (the authors' code: top-k, no reweighting; b/B = 0.1). The
// irreducible-loss model's scoring wall time is the run's extra cost.
#include "esrun/core/error.h"
#include "esrun/sampling/policy.h"
#include "esrun/sampling/weighted.h"

namespace esrun {
namespace {

class RhoLoss final : public SelectionPolicy {
 public:
  RhoLoss(const SamplerOptions& options, const PolicyContext& context) : SelectionPolicy(context), options_(options) {
    const std::string where = options.where("sampler.scores");
    const ScoresFile& file = scores_of(context, "rho_loss");
    const std::string method = file.meta.value("method", "");
    ESRUN_CHECK(method == "irreducible_loss", where, ": '", *options.scores, "' holds ", method,
                " scores; rho_loss needs irreducible losses (esrun score --method irreducible_loss)");
    irreducible_ = file.scores.to(context.device, torch::kFloat);
    rows_ = torch::nonzero(~file.excluded).flatten().to(context.device);
    extra_cost_s_ = file.meta.value("wall_time_s", 0.0);
  }

  EpochPlan plan_epoch(int64_t /*epoch*/) override { return EpochPlan{rows_, {}}; }
  bool needs_scores(int64_t /*epoch*/) const override { return true; }

  Selection select(const Batch& batch, const Scores& scores) override {
    const int64_t b = mini_batch_for(batch.indices.size(0), options_.resolved_mini_batch, options_.meta_batch);
    const auto reducible = scores.losses.to(torch::kFloat) - irreducible_.index_select(0, batch.indices.to(irreducible_.device()));
    return Selection{std::get<1>(reducible.topk(b)), {}, {}};
  }

  double extra_cost_s() const override { return extra_cost_s_; }

 private:
  SamplerOptions options_;
  torch::Tensor irreducible_, rows_;
  double extra_cost_s_ = 0;
};

const bool registered = samplers().add_type<RhoLoss>(
    "rho_loss", "RHO-LOSS: b of each meta-batch B with the largest training loss - irreducible loss (esrun score)",
    {.defaults = {{"sampler.ratio", "0.1"}}, .reads = {"sampler.mini_batch",
        "sampler.ratio", "sampler.scores"}});

}  // namespace
}  // namespace esrun
