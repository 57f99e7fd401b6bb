// The BatchNorm layer of esrun's own models (mlp with model.batch_norm, small_cnn, resnet): over
// dimension 1 of its input ([N, C] or [N, C, H, W]), with libtorch's parameters and buffers (weight,
// bias, running_mean, running_var, num_batches_tracked: checkpoints read as before) and libtorch's
// arithmetic. One addition: in a data-parallel run with distributed.sync_bn the trainer hands it a
// differentiable sum over the ranks, and in training mode it then normalises with the mean and
// variance of every rank's rows together (as PyTorch's SyncBatchNorm) instead of its own share's.
#pragma once

#include <torch/torch.h>

#include <functional>

namespace esrun {

// Sums a tensor over the ranks; its gradient is the sum of the ranks' gradients.
using RankSum = std::function<torch::Tensor(const torch::Tensor&)>;

class BatchNormImpl : public torch::nn::Cloneable<BatchNormImpl> {
 public:
  explicit BatchNormImpl(int64_t features, double eps = 1e-5, double momentum = 0.1);
  void reset() override;
  torch::Tensor forward(const torch::Tensor& input);
  void pretty_print(std::ostream& stream) const override;
  void synchronise(RankSum sum) { sum_ = std::move(sum); }

  torch::Tensor weight, bias, running_mean, running_var, num_batches_tracked;

 private:
  torch::Tensor synchronised_forward(const torch::Tensor& input);
  int64_t features_;
  double eps_, momentum_;
  RankSum sum_;
};
TORCH_MODULE(BatchNorm);

// Hands `sum` to every BatchNorm layer of `model`; returns how many there are.
int64_t synchronise_batch_norm(torch::nn::Module& model, const RankSum& sum);

}  // namespace esrun
