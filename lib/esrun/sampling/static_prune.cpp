// static_prune (the static rows of InfoBatch's Table 1: EL2N, GraNd, Forgetting, Least Confidence,
// Margin, Herding, k-Center, Random): before training, keep round((1 - r) m) of the m samples the
// scores file (esrun score) does not exclude, and train every epoch on that fixed set with plain
// weights. score_keep high keeps the highest scores (the hardest; the greedy methods' first picks),
// low the lowest; stratified is CCS (Zheng et al. 2023): the hard_cutoff fraction with the highest
// scores is pruned first, the rest is cut into `strata` strata of equal score width, and the budget
// is spread over them smallest stratum first (each takes min(its size, what is left / strata left)),
// drawing uniformly within a stratum. The scoring run's wall time is the run's extra cost.
#include <cmath>

#include "esrun/core/error.h"
#include "esrun/sampling/per_sample.h"
#include "esrun/sampling/policy.h"

namespace esrun {
namespace {

// CCS's stratified coverage sampling of `budget` of `rows` by their `scores`.
torch::Tensor stratified(const torch::Tensor& rows, const torch::Tensor& scores, int64_t budget, int64_t strata,
                         at::Generator& gen) {
  const double low = scores.min().item<double>(), high = scores.max().item<double>();
  const double width = high > low ? (high - low) / static_cast<double>(strata) : 1.0;
  const auto bin = ((scores - low) / width).floor().clamp(0, static_cast<double>(strata - 1)).to(torch::kLong);
  std::vector<torch::Tensor> members;
  for (int64_t s = 0; s < strata; ++s) members.push_back(rows.masked_select(bin == s));
  std::stable_sort(members.begin(), members.end(), [](const auto& a, const auto& b) { return a.numel() < b.numel(); });
  std::vector<torch::Tensor> chosen;
  int64_t rest = budget;
  for (size_t i = 0; i < members.size(); ++i) {
    const int64_t take = std::min<int64_t>(members[i].numel(), rest / static_cast<int64_t>(members.size() - i));
    chosen.push_back(members[i].index_select(0, torch::randperm(members[i].numel(), gen, torch::kLong).narrow(0, 0, take)));
    rest -= take;
  }
  return torch::cat(chosen);
}

class StaticPrune final : public SelectionPolicy {
 public:
  StaticPrune(const SamplerOptions& options, const PolicyContext& context) : SelectionPolicy(context) {
    const ScoresFile& file = scores_of(context, "static_prune");
    extra_cost_s_ = file.meta.value("wall_time_s", 0.0);
    const auto rows = torch::nonzero(~file.excluded).flatten();
    const auto scores = file.scores.index_select(0, rows);
    const int64_t m = rows.numel();
    const auto keep = kept_count(options.prune_ratio, m);
    ESRUN_CHECK(keep >= 1, options.where("sampler.prune_ratio"), ": ", options.prune_ratio, " of the ", m,
                " scored samples keeps none; lower it");
    torch::Tensor kept;
    if (options.score_keep == "stratified") {
      const auto cut = static_cast<int64_t>(std::floor(options.hard_cutoff * static_cast<double>(m)));
      ESRUN_CHECK(m - cut >= keep, options.where("sampler.hard_cutoff"), ": pruning the hardest ", cut, " of ", m,
                  " samples leaves fewer than the ", keep, " to keep; lower it or raise sampler.prune_ratio");
      const auto easiest_first = std::get<1>(scores.sort(/*stable=*/true, 0, /*descending=*/false));
      const auto pool = easiest_first.narrow(0, 0, m - cut);
      kept = stratified(rows.index_select(0, pool), scores.index_select(0, pool), keep, options.strata, generator());
    } else {
      const auto order = std::get<1>(scores.sort(/*stable=*/true, 0, /*descending=*/options.score_keep == "high"));
      kept = rows.index_select(0, order.narrow(0, 0, keep));
    }
    kept_ = std::get<0>(kept.sort()).to(context.device);
  }

  EpochPlan plan_epoch(int64_t /*epoch*/) override { return EpochPlan{kept_, {}}; }
  double extra_cost_s() const override { return extra_cost_s_; }

 private:
  torch::Tensor kept_;
  double extra_cost_s_ = 0;
};

const bool registered = samplers().add_type<StaticPrune>(
    "static_prune", "static pruning: train on a fixed (1-r) of the data chosen by a scores file (esrun score)",
    {.defaults = {{"sampler.prune_ratio", "0.3"}}, .reads = {"sampler.prune_ratio",
        "sampler.scores", "sampler.score_keep", "sampler.strata", "sampler.hard_cutoff"}});

}  // namespace
}  // namespace esrun
