#include "esrun/train/loss.h"

namespace esrun {

namespace F = torch::nn::functional;

torch::Tensor per_sample_loss(const torch::Tensor& logits, const torch::Tensor& targets, double label_smoothing) {
  return F::cross_entropy(logits, targets,
                          F::CrossEntropyFuncOptions().reduction(torch::kNone).label_smoothing(label_smoothing));
}

torch::Tensor weighted_mean_loss(const torch::Tensor& losses, const torch::Tensor& weights) {
  return weights.defined() ? (losses * weights).mean() : losses.mean();
}

torch::Tensor logit_grad_sq_norm(const torch::Tensor& logits, const torch::Tensor& targets, double label_smoothing) {
  const auto classes = logits.size(1);
  auto target = F::one_hot(targets, classes).to(logits.scalar_type()) * (1.0 - label_smoothing);
  target.add_(label_smoothing / static_cast<double>(classes));
  return (torch::softmax(logits, 1) - target).pow(2).sum(1);
}

FrozenBatchNorm::FrozenBatchNorm(torch::nn::Module& model) {
  // Every buffer, not only BatchNorm2d's: running statistics of any normalisation layer (and its
  // num_batches_tracked) are buffers, and no other buffer may move during a scoring forward either.
  torch::NoGradGuard no_grad;
  for (const auto& buffer : model.buffers()) saved_.emplace_back(buffer, buffer.clone());
}

FrozenBatchNorm::~FrozenBatchNorm() {
  torch::NoGradGuard no_grad;
  for (auto& [live, copy] : saved_) live.copy_(copy);
}

}  // namespace esrun
