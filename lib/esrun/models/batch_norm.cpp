#include "esrun/models/batch_norm.h"

#include "esrun/core/error.h"

namespace esrun {

BatchNormImpl::BatchNormImpl(int64_t features, double eps, double momentum)
    : features_(features), eps_(eps), momentum_(momentum) {
  reset();
}

void BatchNormImpl::reset() {
  weight = register_parameter("weight", torch::ones({features_}));
  bias = register_parameter("bias", torch::zeros({features_}));
  running_mean = register_buffer("running_mean", torch::zeros({features_}));
  running_var = register_buffer("running_var", torch::ones({features_}));
  num_batches_tracked = register_buffer("num_batches_tracked", torch::zeros({}, torch::kLong));
}

void BatchNormImpl::pretty_print(std::ostream& stream) const {
  stream << "esrun::BatchNorm(" << features_ << ", eps=" << eps_ << ", momentum=" << momentum_ << ")";
}

torch::Tensor BatchNormImpl::forward(const torch::Tensor& input) {
  if (sum_ && is_training()) return synchronised_forward(input);
  // As libtorch's: one value per channel has no variance (its running variance would become NaN).
  ESRUN_CHECK(!is_training() || input.numel() / features_ > 1, "BatchNorm in training got ", input.numel() / features_,
              " value(s) per channel (a pass of ", input.size(0), " row(s)): it needs at least 2. Make the batch "
              "larger (in a multi-process run each rank normalises over its share of a micro-batch; "
              "distributed.sync_bn normalises over all of them)");
  if (is_training()) num_batches_tracked += 1;
  return torch::batch_norm(input, weight, bias, running_mean, running_var, is_training(), momentum_, eps_,
                           at::globalContext().userEnabledCuDNN());
}

torch::Tensor BatchNormImpl::synchronised_forward(const torch::Tensor& input) {
  // Per channel: the sum, the sum of squares and the count of this rank's values, accumulated in
  // double (the variance is their difference), summed over the ranks in one collective. A rank
  // with no rows contributes zeros and still takes part. Half-precision inputs are squared in fp32.
  std::vector<int64_t> reduce;
  for (int64_t d = 0; d < input.dim(); ++d)
    if (d != 1) reduce.push_back(d);
  const auto values = input.scalar_type() == torch::kDouble ? input : input.to(torch::kFloat);
  const double count = static_cast<double>(input.numel() / features_);
  const auto sums = torch::cat({values.sum(reduce, false, torch::kDouble), (values * values).sum(reduce, false, torch::kDouble),
                                torch::full({1}, count, torch::TensorOptions().dtype(torch::kDouble).device(input.device()))});
  const auto total = sum_(sums);
  const auto n = total.narrow(0, 2 * features_, 1);
  const auto mean = total.narrow(0, 0, features_) / n;
  const auto variance = (total.narrow(0, features_, features_) / n - mean * mean).clamp_min(0);
  {
    torch::NoGradGuard no_grad;
    num_batches_tracked += 1;
    running_mean.mul_(1 - momentum_).add_(mean.to(running_mean.dtype()), momentum_);
    running_var.mul_(1 - momentum_).add_((variance * n / (n - 1).clamp_min(1)).to(running_var.dtype()), momentum_);
  }
  // Normalised in fp32 (or the input's wider type), returned in the input's type, as libtorch's.
  std::vector<int64_t> shape(static_cast<size_t>(input.dim()), 1);
  shape[1] = features_;
  const auto type = values.scalar_type();
  const auto scale = (variance + eps_).rsqrt().to(type).view(shape);
  const auto output = (values - mean.to(type).view(shape)) * scale * weight.to(type).view(shape) + bias.to(type).view(shape);
  return output.to(input.scalar_type());
}

int64_t synchronise_batch_norm(torch::nn::Module& model, const RankSum& sum) {
  int64_t layers = 0;
  for (const auto& module : model.modules())
    if (auto* norm = dynamic_cast<BatchNormImpl*>(module.get())) norm->synchronise(sum), ++layers;
  return layers;
}

}  // namespace esrun
