// adaselection: AdaSelection (Zhang et al. 2023, docs/methods.md). Per meta-batch every candidate method
// m gives importances alpha_i^m from the batch's losses:
//   big_loss softmax(l), small_loss softmax(-l), uniform 1/B, grad_norm softmax(g), adaboost
//   1/2 log((1 + l') / (1 - l')) with l' = l / (max l (1 + 1e-6)), coreset1 1 for the top and bottom
//   k/2 losses else 0, coreset2 softmax(-|l - mean l|); adaboost's and coreset1's divided by their
//   sum, so that every candidate's importances sum to 1.
// The score s_i = r_t(i) sum_m w^m_t alpha_i^m picks the top k = round(ratio * B) (plain mean loss).
// Method weights start at 1/M; at each meta-batch t, before scoring it (Eq. 5 uses w_t, and Eq. 3
// makes w_t from this iteration's losses), w^m_t = w^m_{t-1} exp(beta |L^m_t - L^m_{t-1}| / L^m_{t-1}),
// normalised, where L^m_t is the mean loss of the k samples method m alone would pick from this
// meta-batch. (The paper's L_t is "the average loss across all the samples in the mini-batch",
// which would not depend on m and so, after normalising, never move the weights; docs/methods.md.)
// Training, by default as the paper's Algorithm 2 ("biggest losers"): the k chosen rows of each
// meta-batch join a set C, and one step is taken on B rows whenever C holds B, so an epoch takes
// about ratio * n / B full-sized steps. C persists across epochs, as Algorithm 2 initialises it once;
// what is left in it after the last epoch is never trained. sampler.full_batches: false instead
// takes one step on the k chosen rows of every meta-batch.
// The optional curriculum reward (cl_gamma): the paper's formula (4) as printed sharpens with t while
// its text says it flattens; we implement the text: r_t(i) = exp(-l_i / (t^gamma sum_j l_j^2)), with
// t the step count from 1 (the paper's iteration index).
#include "esrun/sampling/adaselection.h"

#include <cmath>

#include "esrun/core/error.h"
#include "esrun/sampling/batch_queue.h"
#include "esrun/sampling/policy.h"
#include "esrun/sampling/weighted.h"

namespace esrun {

torch::Tensor adaselection_importance(const std::string& method, const torch::Tensor& losses,
                                      const torch::Tensor& grad_norms, int64_t k) {
  const int64_t size = losses.size(0);
  if (method == "big_loss") return torch::softmax(losses, 0);
  if (method == "small_loss") return torch::softmax(-losses, 0);
  if (method == "uniform") return torch::full_like(losses, 1.0 / static_cast<double>(size));
  if (method == "grad_norm") return torch::softmax(grad_norms.to(losses.scalar_type()).sqrt(), 0);  // g = ||dl/dz||
  // The two that are no distribution over the batch as they stand are normalised to sum 1, so that
  // a candidate's weight w^m, not the scale of its importances, decides its share of the mix.
  const auto as_distribution = [](const torch::Tensor& alpha) { return alpha / alpha.sum().clamp_min(1e-12); };
  if (method == "adaboost") {
    const auto scaled = losses / (losses.max() * (1.0 + 1e-6)).clamp_min(1e-12);
    return as_distribution(0.5 * torch::log((1.0 + scaled) / (1.0 - scaled)));
  }
  if (method == "coreset1") {
    auto chosen = torch::zeros_like(losses);
    const int64_t top = (k + 1) / 2, bottom = k / 2;
    chosen.index_fill_(0, std::get<1>(losses.topk(top)), 1.0);
    if (bottom > 0) chosen.index_fill_(0, std::get<1>(losses.topk(bottom, 0, /*largest=*/false)), 1.0);
    return as_distribution(chosen);
  }
  if (method == "coreset2") return torch::softmax(-(losses - losses.mean()).abs(), 0);
  ESRUN_FAIL("unknown adaselection candidate '", method, "'");
}

namespace {

class AdaSelection final : public SelectionPolicy {
 public:
  AdaSelection(const SamplerOptions& options, const PolicyContext& context)
      : SelectionPolicy(context),
        options_(options),
        weights_(torch::full({static_cast<int64_t>(options.candidates.size())}, 1.0 / static_cast<double>(options.candidates.size()),
                             torch::TensorOptions(torch::kDouble).device(context.device))) {}

  bool needs_scores(int64_t /*epoch*/) const override { return true; }

  Selection select(const Batch& batch, const Scores& scores) override {
    const auto losses = scores.losses.to(torch::kDouble);
    const int64_t k = mini_batch_for(batch.indices.size(0), options_.resolved_mini_batch, options_.meta_batch);
    std::vector<torch::Tensor> importances, picked_loss;
    for (const auto& method : options_.candidates) {
      const auto alpha = adaselection_importance(method, losses, scores.grad_norms, k);
      importances.push_back(alpha);
      // Uniform's picks are any k: its L is their expected mean loss, the batch mean (a top-k among
      // equal importances would depend on the device's tie-breaking).
      picked_loss.push_back(method == "uniform" ? losses.mean()
                                                : losses.index_select(0, std::get<1>(alpha.topk(k))).mean());
    }
    ++step_;
    // w_t from L_t against L_{t-1}, then the scores of this meta-batch with w_t.
    const auto current = torch::stack(picked_loss);
    if (previous_.defined()) {
      weights_ = weights_ * torch::exp(options_.method_beta * (current - previous_).abs() / previous_.clamp_min(1e-12));
      weights_ = weights_ / weights_.sum();
    }
    previous_ = current;
    auto score = torch::matmul(weights_, torch::stack(importances));
    if (options_.cl_gamma) {
      const double t = std::pow(static_cast<double>(step_), *options_.cl_gamma);
      score = score * torch::exp(-losses / (t * losses.pow(2).sum()).clamp_min(1e-12));
    }
    const auto positions = std::get<1>(score.topk(k));
    if (!options_.full_batches) return Selection{positions, {}, {}};
    chosen_.append(batch, positions);
    return Selection{{}, {}, chosen_.take_full(options_.meta_batch)};
  }

  void save_state(torch::serialize::OutputArchive& archive) const override {
    archive.write("weights", weights_);
    archive.write("previous", previous_.defined() ? previous_ : torch::empty({0}, torch::kDouble));
    archive.write("step", torch::tensor(step_, torch::kLong));
    chosen_.save(archive);
  }
  void load_state(torch::serialize::InputArchive& archive) override {
    load_tensor(archive, "weights", weights_);
    torch::Tensor previous, step;
    archive.read("previous", previous);
    archive.read("step", step);
    previous_ = previous.numel() > 0 ? previous.to(weights_.device()) : torch::Tensor();
    step_ = step.item<int64_t>();
    chosen_.load(archive, weights_.device());
  }

 private:
  SamplerOptions options_;
  torch::Tensor weights_, previous_;
  int64_t step_ = 0;
  BatchQueue chosen_;  // Algorithm 2's set C
};

const bool registered = samplers().add_type<AdaSelection>(
    "adaselection", "AdaSelection: top-k by an adaptively weighted mix of candidate importance methods",
    {.defaults = {{"sampler.ratio", "0.25"}}, .reads = {"sampler.mini_batch", "sampler.ratio", "sampler.candidates",
        "sampler.method_beta", "sampler.cl_gamma", "sampler.full_batches"}});

}  // namespace
}  // namespace esrun
