#pragma once

#include <torch/torch.h>

namespace esrun {

// The step's loss: mean(w_i * l_i), divided by the batch size (not by the sum of weights, as
// InfoBatch and Omission need); the plain mean when `weights` is undefined.
torch::Tensor weighted_mean_loss(const torch::Tensor& losses, const torch::Tensor& weights);

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

// Dynamic loss scaling for fp16 training, as torch.cuda.amp.GradScaler: the loss is multiplied by
// the scale before backward; the gradients are unscaled and checked for Inf/NaN on the device; a
// step with non-finite gradients is skipped and the scale halves, and after `growth_interval`
// finite steps in a row it doubles. CUDA only (the fused ops have no CPU kernels in libtorch 1.13).
class GradScaler {
 public:
  explicit GradScaler(torch::Device device, double initial_scale = 65536.0, int64_t growth_interval = 2000);
  torch::Tensor scale(const torch::Tensor& loss) const { return loss * scale_; }
  // Unscales the gradients in place and reports whether they are all finite: one host read per
  // step, which deciding to skip the optimizer step needs.
  bool unscale(const std::vector<torch::Tensor>& parameters);
  // Grows or backs off the scale from the last unscale() (on the device).
  void update();
  void save(torch::serialize::OutputArchive& archive) const;
  void load(torch::serialize::InputArchive& archive);

 private:
  torch::Tensor scale_, growth_tracker_, found_inf_;
  int64_t growth_interval_;
};

}  // namespace esrun
