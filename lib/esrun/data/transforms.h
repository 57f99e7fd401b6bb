// Augmentation on whole batches of uint8 images [N, C, H, W], on whatever device they are on.
// Random draws come from the given CPU generator (then move to the images' device), so a fixed
// seed gives the same crops and flips on CPU and GPU.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "esrun/config/run_config.h"

namespace esrun {

// Zero-pad by `padding` on every side, then crop back to H x W at a random offset per image
// (torchvision's RandomCrop(size, padding) with fill 0). `padding` 0 returns the input.
torch::Tensor random_crop(const torch::Tensor& images, int64_t padding, at::Generator& gen);

// The crop at given per-image offsets (each in [0, 2 * padding]); random_crop draws them.
torch::Tensor crop_at(const torch::Tensor& images, int64_t padding, const torch::Tensor& dy, const torch::Tensor& dx);

// Mirror each image left-right where `flip` (bool [N]) is true.
torch::Tensor flip_where(const torch::Tensor& images, const torch::Tensor& flip);

// Each image mirrored with probability 1/2.
torch::Tensor random_flip(const torch::Tensor& images, at::Generator& gen);

// uint8 -> float in [0, 1], then (x - mean) / std per channel when mean/std are given. Float
// inputs (feature tables, prepared by their dataset) pass through unchanged to the device.
class Normalizer {
 public:
  Normalizer(const std::vector<double>& mean, const std::vector<double>& std, bool normalize, torch::Device device);
  // uint8 images anywhere -> float images on the normaliser's device.
  torch::Tensor operator()(const torch::Tensor& images) const;

 private:
  torch::Tensor scale_, shift_;  // x * scale + shift == (x / 255 - mean) / std
};

// The training pipeline: crop, flip, normalise (images; feature tables pass through). Crop and flip run where the images are (the
// device with data.on_device, else the CPU); the uint8 result moves to the normaliser's device
// asynchronously and is normalised there.
class TrainAugment {
 public:
  TrainAugment(const AugmentOptions& options, Normalizer normalizer) : options_(options), normalize_(std::move(normalizer)) {}
  torch::Tensor operator()(const torch::Tensor& images, at::Generator& gen) const;

 private:
  AugmentOptions options_;
  Normalizer normalize_;
};

}  // namespace esrun
