#pragma once

#include <torch/torch.h>

namespace esrun {

// Cross entropy per sample (reduction none) with label smoothing: the loss every step and every
// scoring forward uses, so policies see exactly the losses the step trains on.
torch::Tensor per_sample_loss(const torch::Tensor& logits, const torch::Tensor& targets, double label_smoothing);

// The step's loss: mean(w_i * l_i), divided by the batch size (not by the sum of weights, as
// InfoBatch and Omission need); the plain mean when `weights` is undefined.
torch::Tensor weighted_mean_loss(const torch::Tensor& losses, const torch::Tensor& weights);

// ||dl/dz||^2 at the logits z for that loss: ||softmax(z) - t||^2 with t the (smoothed) target
// (1 - eps) * onehot(y) + eps / K. Omission and AdaSelection's grad_norm read it.
torch::Tensor logit_grad_sq_norm(const torch::Tensor& logits, const torch::Tensor& targets, double label_smoothing);

// Snapshot of the model's buffers (BatchNorm running statistics), restored when the guard goes out
// of scope: a scoring forward runs in training mode (batch statistics, as the step sees) without
// moving them.
class FrozenBatchNorm {
 public:
  explicit FrozenBatchNorm(torch::nn::Module& model);
  ~FrozenBatchNorm();
  FrozenBatchNorm(const FrozenBatchNorm&) = delete;
  FrozenBatchNorm& operator=(const FrozenBatchNorm&) = delete;

 private:
  std::vector<std::pair<torch::Tensor, torch::Tensor>> saved_;  // (live buffer, copy)
};

}  // namespace esrun
