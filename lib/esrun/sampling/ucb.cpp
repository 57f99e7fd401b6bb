// ucb and epsilon_greedy (Raju et al. 2021, docs/methods.md). Per sample an EMA of the loss mu_i and of
// its squared deviation sigma_i^2 (factor 0.9), updated when the sample is trained. Every `period`
// epochs the kept set is chosen anew: ucb keeps the (1 - r) n samples with the highest
// mu_i + c sigma_i; epsilon_greedy keeps (1 - r) n of which a fraction epsilon is uniform at random
// (from the rest) and the others the highest mu_i. Samples never trained rank first (ties broken at
// random). No reweighting. A sample's first observation sets mu = loss and sigma^2 = 0; later ones
// use the deviation from the mean before the update.
#include <cmath>

#include "esrun/core/rng.h"
#include "esrun/sampling/per_sample.h"
#include "esrun/sampling/policy.h"

namespace esrun {
namespace {

constexpr double kDecay = 0.9;

class Bandit final : public SelectionPolicy {
 public:
  Bandit(const SamplerOptions& options, const PolicyContext& context, bool greedy)
      : SelectionPolicy(context),
        options_(options),
        greedy_(greedy),
        mean_(per_sample(context, 0.0)),
        variance_(torch::zeros_like(mean_)),
        seen_(per_sample(context, 0.0, torch::kBool)) {}

  EpochPlan plan_epoch(int64_t epoch) override {
    if (!kept_.defined() || epoch % options_.period == 0) kept_ = choose();
    return EpochPlan{kept_, {}};
  }

  void observe(const Observation& observation) override {
    if (!observation.trained) return;
    const auto& i = observation.indices;
    const auto loss = observation.losses.to(torch::kDouble);
    const auto seen = seen_.index_select(0, i);
    const auto mean = mean_.index_select(0, i), variance = variance_.index_select(0, i);
    const auto deviation = (loss - mean).pow(2);
    mean_.index_copy_(0, i, torch::where(seen, kDecay * mean + (1 - kDecay) * loss, loss));
    variance_.index_copy_(0, i, torch::where(seen, kDecay * variance + (1 - kDecay) * deviation, torch::zeros_like(loss)));
    seen_.index_fill_(0, i, true);
  }

  void save_state(torch::serialize::OutputArchive& archive) const override {
    archive.write("mean", mean_);
    archive.write("variance", variance_);
    archive.write("seen", seen_);
    archive.write("kept", kept_.defined() ? kept_ : torch::empty({0}, torch::kLong));
  }
  void load_state(torch::serialize::InputArchive& archive) override {
    load_tensor(archive, "mean", mean_);
    load_tensor(archive, "variance", variance_);
    load_tensor(archive, "seen", seen_);
    torch::Tensor kept;
    archive.read("kept", kept);
    kept_ = kept.numel() > 0 ? kept.to(mean_.device()) : torch::Tensor();
  }

 private:
  torch::Tensor choose() {
    const int64_t n = context().train_size;
    const auto keep = kept_count(options_.prune_ratio, n);
    // Unseen first, in random order: keys 1e300 * (1 + U) rank above every seen priority; among seen
    // samples a tiny random term breaks ties at random.
    const auto uniform = torch::rand({n}, generator(), torch::kDouble).to(mean_.device());
    auto priority = greedy_ ? mean_.clone() : mean_ + options_.ucb_c * variance_.sqrt();
    priority = torch::where(seen_, priority + uniform * 1e-9, 1e300 * (1.0 + uniform));
    if (!greedy_) return std::get<1>(priority.topk(keep));
    const auto random_count = static_cast<int64_t>(std::llround(options_.epsilon * static_cast<double>(keep)));
    const auto best = std::get<1>(priority.topk(keep - random_count));
    auto rest = torch::ones({n}, torch::TensorOptions(torch::kBool).device(mean_.device()));
    rest.index_fill_(0, best, false);
    const auto others = rest.nonzero().flatten();
    const auto pick = torch::randperm(others.size(0), generator(), torch::kLong).narrow(0, 0, random_count).to(others.device());
    return torch::cat({best, others.index_select(0, pick)});
  }

  SamplerOptions options_;
  bool greedy_;
  torch::Tensor mean_, variance_, seen_, kept_;
};

const bool registered_ucb = samplers().add_type<Bandit>(
    "ucb", "keep the (1-r)n samples with the highest loss EMA + c * deviation EMA, re-chosen every period epochs",
    {.defaults = {{"sampler.prune_ratio", "0.3"}}, .reads = {"sampler.prune_ratio", "sampler.period",
        "sampler.ucb_c"}}, false);
const bool registered_greedy = samplers().add_type<Bandit>(
    "epsilon_greedy", "keep (1-r)n samples: a fraction epsilon at random, the rest with the highest loss EMA",
    {.defaults = {{"sampler.prune_ratio", "0.3"}}, .reads = {"sampler.prune_ratio", "sampler.period",
        "sampler.epsilon"}}, true);

}  // namespace
}  // namespace esrun
