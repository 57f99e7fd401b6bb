// Datasets: images held in memory as uint8 tensors or decoded from files, tables of features, or
// tokenised text.
// A dataset is registered under its YAML name (data.name) by its own .cpp; load_dataset() then
// applies subsets, the task (task.name), target standardisation and label noise.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "esrun/config/run_config.h"
#include "esrun/core/registry.h"
#include "esrun/core/scores_file.h"
#include "esrun/data/file_loader.h"

namespace esrun {

// A split's inputs are either in memory (`inputs`) or image files decoded batch by batch
// (`files`, e.g. image_folder); exactly one of the two is set.
struct Split {
  // uint8 images [N, C, H, W], float features [N, F] (prepared by the dataset), or int32 token ids
  // [N, 2, L] (text: data/tokenizer.h).
  torch::Tensor inputs;
  torch::Tensor targets;       // int64 class indices [N], or float regression targets [N]
  torch::Tensor source_index;  // int64 [N]: record index in the source files (kept through subsets)
  std::shared_ptr<const ImageFiles> files;
  int64_t size() const { return targets.defined() ? targets.size(0) : 0; }
  bool in_memory() const { return inputs.defined(); }
};

// Class indices a dataset may hold are below this: more would be an output layer of millions of
// units, and a larger index in a file is taken for damage (it would overflow the class count).
constexpr int64_t kMaxClasses = 1000000;

struct Dataset {
  std::string name;
  std::string task = "classification";  // the natural task; after load_dataset the run's task
  Split train, test;
  int64_t num_classes = 0;        // classification
  std::vector<double> mean, std;  // images: per channel, on the [0, 1] pixel scale
  double target_mean = 0.0, target_std = 1.0;  // regression: the targets' standardisation (train split)
  int64_t vocab_size = 0;         // text: the tokenizer's vocabulary
  std::string metric;             // the headline metric the dataset is reported with (GLUE's); empty = the task's
  bool images() const { return train.files || train.inputs.dim() == 4; }
  bool text() const { return vocab_size > 0; }
  // [C, H, W] for images, [F] for features, [2, L] for text.
  std::vector<int64_t> input_shape() const;
  torch::Tensor noisy_mask;       // bool [N_train]: true where label noise changed the label
  torch::Tensor clean_labels;     // int64 [N_train]: the labels before noise
};

// What identifies a training split for the files made from it (esrun score's scores files): the
// dataset, its size and a checksum of which source records it holds with which labels (so another
// subset, data seed or label noise differs).
DataIdentity identify(const Dataset& data);

using DatasetRegistry = Registry<Dataset, const DataOptions&>;
DatasetRegistry& datasets();

// The registered dataset with data.train_subset / data.test_subset, the task (task.name, else the
// dataset's own), target standardisation (regression) and data.label_noise applied.
Dataset load_dataset(const RunConfig& config);

// The error of a dataset that needs OpenCV in a build without it (ESRUN_WITH_OPENCV=OFF).
[[noreturn]] void fail_without_opencv(const DataOptions& options);
// Likewise for libmatio (ESRUN_WITH_MATIO=OFF).
[[noreturn]] void fail_without_matio(const DataOptions& options);

// Per-channel mean and std of uint8 images, on the [0, 1] scale.
void channel_statistics(const torch::Tensor& images, std::vector<double>& mean, std::vector<double>& std);

}  // namespace esrun
