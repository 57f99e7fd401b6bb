#include "esrun/data/transforms.h"

#include "esrun/core/device.h"

namespace esrun {

namespace idx = torch::indexing;

torch::Tensor crop_at(const torch::Tensor& images, int64_t padding, const torch::Tensor& dy, const torch::Tensor& dx) {
  const int64_t n = images.size(0), c = images.size(1), h = images.size(2), w = images.size(3);
  const auto padded = torch::constant_pad_nd(images, {padding, padding, padding, padding}, 0);
  const auto long_options = torch::TensorOptions().dtype(torch::kLong).device(images.device());
  // Gather rows dy + [0, h) and columns dx + [0, w) of each padded image in one indexing op.
  const auto rows = to_device_async(dy, images.device()).view({n, 1}) + torch::arange(h, long_options).view({1, h});
  const auto cols = to_device_async(dx, images.device()).view({n, 1}) + torch::arange(w, long_options).view({1, w});
  const auto batch = torch::arange(n, long_options).view({n, 1, 1, 1});
  const auto channel = torch::arange(c, long_options).view({1, c, 1, 1});
  return padded.index({batch, channel, rows.view({n, 1, h, 1}), cols.view({n, 1, 1, w})});
}

torch::Tensor random_crop(const torch::Tensor& images, int64_t padding, at::Generator& gen) {
  if (padding == 0) return images;
  const int64_t n = images.size(0);
  const auto dy = torch::randint(0, 2 * padding + 1, {n}, gen, torch::kLong);
  const auto dx = torch::randint(0, 2 * padding + 1, {n}, gen, torch::kLong);
  return crop_at(images, padding, dy, dx);
}

torch::Tensor flip_where(const torch::Tensor& images, const torch::Tensor& flip) {
  const auto mask = to_device_async(flip, images.device()).view({-1, 1, 1, 1});
  return torch::where(mask, images.flip({3}), images);
}

torch::Tensor random_flip(const torch::Tensor& images, at::Generator& gen) {
  return flip_where(images, torch::rand({images.size(0)}, gen, torch::kFloat).lt(0.5));
}

Normalizer::Normalizer(const std::vector<double>& mean, const std::vector<double>& std, bool normalize,
                       torch::Device device) {
  const auto channels = static_cast<int64_t>(mean.size());
  auto m = torch::tensor(mean, torch::kDouble), s = torch::tensor(std, torch::kDouble);
  if (!normalize) m.zero_(), s.fill_(1.0);
  scale_ = (1.0 / (255.0 * s)).to(torch::kFloat).view({1, channels, 1, 1}).to(device);
  shift_ = (-m / s).to(torch::kFloat).view({1, channels, 1, 1}).to(device);
}

torch::Tensor Normalizer::operator()(const torch::Tensor& images) const {
  if (images.scalar_type() != torch::kByte) return to_device_async(images, scale_.device());  // features, token ids
  return torch::addcmul(shift_, to_device_async(images, scale_.device()).to(torch::kFloat), scale_);
}

torch::Tensor TrainAugment::operator()(const torch::Tensor& images, at::Generator& gen) const {
  if (images.scalar_type() != torch::kByte) return normalize_(images);  // features, token ids: as they are
  auto out = random_crop(images, options_.crop_padding, gen);
  if (options_.flip) out = random_flip(out, gen);
  return normalize_(out);
}

}  // namespace esrun
