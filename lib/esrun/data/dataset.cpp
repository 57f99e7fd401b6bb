#include "esrun/data/dataset.h"

#include "esrun/core/error.h"
#include "esrun/core/rng.h"
#include "esrun/data/label_noise.h"

namespace esrun {
namespace {

// A seeded random `count` of the split, kept in the split's order.
ImageSplit take_subset(const ImageSplit& split, int64_t count, at::Generator& gen, const std::string& where) {
  ESRUN_CHECK(count <= split.size(), where, ": asks for ", count, " samples but the split has only ", split.size());
  auto chosen = std::get<0>(torch::randperm(split.size(), gen, torch::kLong).narrow(0, 0, count).sort());
  ImageSplit subset{{}, split.labels.index_select(0, chosen), split.source_index.index_select(0, chosen), {}};
  if (split.in_memory()) {
    subset.images = split.images.index_select(0, chosen);
  } else {
    const ImageFiles& all = *split.files;
    auto files = std::make_shared<ImageFiles>(ImageFiles{{}, all.channels, all.height, all.width, all.decode});
    const auto rows = chosen.accessor<int64_t, 1>();
    for (int64_t i = 0; i < count; ++i) files->paths.push_back(all.paths[static_cast<size_t>(rows[i])]);
    subset.files = std::move(files);
  }
  return subset;
}

}  // namespace

DatasetRegistry& datasets() {
  static DatasetRegistry registry("dataset");
  return registry;
}

void fail_without_opencv(const std::string& dataset) {
  ESRUN_FAIL("data.name: ", dataset, " needs OpenCV, and this esrun was built with ESRUN_WITH_OPENCV=OFF; rebuild "
             "with -DESRUN_WITH_OPENCV=ON or choose cifar10/cifar100");
}

void channel_statistics(const torch::Tensor& images, std::vector<double>& mean, std::vector<double>& std) {
  const auto pixels = images.to(torch::kDouble).div(255.0).transpose(0, 1).flatten(1);
  const auto m = pixels.mean(1), s = pixels.std(1);
  mean.assign(m.data_ptr<double>(), m.data_ptr<double>() + m.numel());
  std.assign(s.data_ptr<double>(), s.data_ptr<double>() + s.numel());
}

ImageDataset load_dataset(const RunConfig& config) {
  const DataOptions& options = config.data;
  const auto& c = config.resolved;
  ImageDataset data = datasets().create(options.name, c.where("data.name"), options);
  // One stream per split, so choosing a training subset never changes which test samples are kept.
  if (options.train_subset) {
    auto gen = make_generator(options.seed, "train_subset");
    data.train = take_subset(data.train, *options.train_subset, gen, c.where("data.train_subset"));
  }
  if (options.test_subset) {
    auto gen = make_generator(options.seed, "test_subset");
    data.test = take_subset(data.test, *options.test_subset, gen, c.where("data.test_subset"));
  }
  data.clean_labels = data.train.labels.clone();
  data.noisy_mask = torch::zeros({data.train.size()}, torch::kBool);
  if (options.label_noise.kind != NoiseKind::None && options.label_noise.ratio > 0) {
    auto noisy = corrupt_labels(data.train.labels, data.num_classes, options.label_noise);
    data.train.labels = noisy.labels;
    data.noisy_mask = noisy.mask;
  }
  return data;
}

}  // namespace esrun
