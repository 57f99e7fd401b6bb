#include "esrun/models/batch_norm.h"

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
  if (is_training()) num_batches_tracked += 1;
  return torch::batch_norm(input, weight, bias, running_mean, running_var, is_training(), momentum_, eps_,
                           at::globalContext().userEnabledCuDNN());
}

torch::Tensor BatchNormImpl::synchronised_forward(const torch::Tensor& input) {
  // Per channel: the sum, the sum of squares and the count of this rank's values, in double (the
  // variance is their difference), summed over the ranks in one collective. A rank with no rows
  // contributes zeros and still takes part.
  std::vector<int64_t> reduce;
  for (int64_t d = 0; d < input.dim(); ++d)
    if (d != 1) reduce.push_back(d);
  const auto values = input.to(torch::kDouble);
  const double count = static_cast<double>(input.numel() / features_);
  const auto total = sum_(torch::cat({values.sum(reduce), (values * values).sum(reduce),
                                      torch::full({1}, count, values.options().requires_grad(false))}));
  const auto n = total.narrow(0, 2 * features_, 1);
  const auto mean = total.narrow(0, 0, features_) / n;
  const auto variance = (total.narrow(0, features_, features_) / n - mean * mean).clamp_min(0);
  {
    torch::NoGradGuard no_grad;
    num_batches_tracked += 1;
    running_mean.mul_(1 - momentum_).add_(mean.to(running_mean.dtype()), momentum_);
    running_var.mul_(1 - momentum_).add_((variance * n / (n - 1).clamp_min(1)).to(running_var.dtype()), momentum_);
  }
  // Normalised in the input's precision.
  std::vector<int64_t> shape(static_cast<size_t>(input.dim()), 1);
  shape[1] = features_;
  const auto type = input.scalar_type();
  const auto scale = (variance + eps_).rsqrt().to(type).view(shape);
  return (input - mean.to(type).view(shape)) * scale * weight.view(shape) + bias.view(shape);
}

int64_t synchronise_batch_norm(torch::nn::Module& model, const RankSum& sum) {
  int64_t layers = 0;
  for (const auto& module : model.modules())
    if (auto* norm = dynamic_cast<BatchNormImpl*>(module.get())) norm->synchronise(sum), ++layers;
  return layers;
}

}  // namespace esrun
