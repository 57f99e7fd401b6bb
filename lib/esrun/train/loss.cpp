#include "esrun/train/loss.h"

namespace esrun {

torch::Tensor weighted_mean_loss(const torch::Tensor& losses, const torch::Tensor& weights) {
  return weights.defined() ? (losses * weights).mean() : losses.mean();
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

GradScaler::GradScaler(torch::Device device, double initial_scale, int64_t growth_interval)
    : scale_(torch::full({1}, initial_scale, torch::TensorOptions().dtype(torch::kFloat).device(device))),
      growth_tracker_(torch::zeros({1}, torch::TensorOptions().dtype(torch::kInt).device(device))),
      found_inf_(torch::zeros({1}, torch::TensorOptions().dtype(torch::kFloat).device(device))),
      growth_interval_(growth_interval) {}

bool GradScaler::unscale(const std::vector<torch::Tensor>& parameters) {
  std::vector<torch::Tensor> grads;
  for (const auto& p : parameters)
    if (p.grad().defined()) grads.push_back(p.grad());
  found_inf_.zero_();
  at::_amp_foreach_non_finite_check_and_unscale_(grads, found_inf_, scale_.reciprocal());
  return found_inf_.item<float>() == 0.0f;
}

void GradScaler::update() {
  at::_amp_update_scale_(scale_, growth_tracker_, found_inf_, 2.0, 0.5, growth_interval_);
}

void GradScaler::save(torch::serialize::OutputArchive& archive) const {
  archive.write("grad_scale", scale_.cpu());
  archive.write("grad_scale_growth", growth_tracker_.cpu());
}

void GradScaler::load(torch::serialize::InputArchive& archive) {
  torch::Tensor scale, growth;
  archive.read("grad_scale", scale);
  archive.read("grad_scale_growth", growth);
  scale_.copy_(scale);
  growth_tracker_.copy_(growth);
}

}  // namespace esrun
