// Image datasets held in memory as uint8 tensors. A dataset is registered under its YAML name
// (data.name) by its own .cpp; load_dataset() then applies subsets and label noise.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "esrun/config/run_config.h"
#include "esrun/core/registry.h"
#include "esrun/data/file_loader.h"

namespace esrun {

// A split's pixels are either in memory (`images`) or image files decoded batch by batch
// (`files`, e.g. image_folder); exactly one of the two is set.
struct ImageSplit {
  torch::Tensor images;        // uint8 [N, C, H, W]
  torch::Tensor labels;        // int64 [N]
  torch::Tensor source_index;  // int64 [N]: record index in the source files (kept through subsets)
  std::shared_ptr<const ImageFiles> files;
  int64_t size() const { return labels.defined() ? labels.size(0) : 0; }
  bool in_memory() const { return images.defined(); }
  int64_t channels() const { return in_memory() ? images.size(1) : files->channels; }
};

struct ImageDataset {
  std::string name;
  ImageSplit train, test;
  int64_t num_classes = 0;
  std::vector<double> mean, std;  // per channel, on the [0, 1] pixel scale
  torch::Tensor noisy_mask;       // bool [N_train]: true where label noise changed the label
  torch::Tensor clean_labels;     // int64 [N_train]: the labels before noise
};

using DatasetRegistry = Registry<ImageDataset, const DataOptions&>;
DatasetRegistry& datasets();

// The registered dataset with data.train_subset / data.test_subset and data.label_noise applied.
ImageDataset load_dataset(const RunConfig& config);

// The error of a dataset that needs OpenCV in a build without it (ESRUN_WITH_OPENCV=OFF).
[[noreturn]] void fail_without_opencv(const std::string& dataset);

// Per-channel mean and std of uint8 images, on the [0, 1] scale.
void channel_statistics(const torch::Tensor& images, std::vector<double>& mean, std::vector<double>& std);

}  // namespace esrun
