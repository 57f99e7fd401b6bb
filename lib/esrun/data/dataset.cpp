#include "esrun/data/dataset.h"

#include <spdlog/fmt/fmt.h>

#include "esrun/core/error.h"
#include "esrun/core/rng.h"
#include "esrun/data/label_noise.h"

namespace esrun {
namespace {

// A seeded random `count` of the split, kept in the split's order.
Split take_subset(const Split& split, int64_t count, at::Generator& gen, const std::string& where) {
  ESRUN_CHECK(count <= split.size(), where, ": asks for ", count, " samples but the split has only ", split.size());
  auto chosen = std::get<0>(torch::randperm(split.size(), gen, torch::kLong).narrow(0, 0, count).sort());
  Split subset{{}, split.targets.index_select(0, chosen), split.source_index.index_select(0, chosen), {}};
  if (split.in_memory()) {
    subset.inputs = split.inputs.index_select(0, chosen);
  } else {
    const ImageFiles& all = *split.files;
    auto files = std::make_shared<ImageFiles>(ImageFiles{{}, all.channels, all.height, all.width, all.decode});
    const auto rows = chosen.accessor<int64_t, 1>();
    for (int64_t i = 0; i < count; ++i) files->paths.push_back(all.paths[static_cast<size_t>(rows[i])]);
    subset.files = std::move(files);
  }
  return subset;
}

// The run's task on this dataset: a table may be read as either task, images only as their own.
// Regression targets are standardised with the training split's mean and std.
void apply_task(Dataset& data, const RunConfig& config) {
  const auto& c = config.resolved;
  const std::string task = config.task.name.value_or(data.task);
  if (task != data.task) {
    ESRUN_CHECK(!data.images() && !data.text(), c.where("task.name"), ": ", data.name, " is ",
                data.images() ? "an image " : "a text ", data.task,
                " dataset; only feature tables (csv_table) can be read as another task");
    if (task == "classification") {
      const auto all = torch::cat({data.train.targets, data.test.targets});
      ESRUN_CHECK(all.eq(all.round()).all().item<bool>() && all.min().item<double>() >= 0 &&
                      all.max().item<double>() < static_cast<double>(kMaxClasses),
                  c.where("task.name"), ": classification needs class indices 0, 1, ..., ", kMaxClasses - 1,
                  " in the target column of ", data.name, ", but it holds other numbers (min ", all.min().item<double>(),
                  ", max ", all.max().item<double>(), ")");
      data.num_classes = static_cast<int64_t>(all.max().item<double>()) + 1;
      data.train.targets = data.train.targets.to(torch::kLong);
      data.test.targets = data.test.targets.to(torch::kLong);
    } else {
      data.train.targets = data.train.targets.to(torch::kFloat);
      data.test.targets = data.test.targets.to(torch::kFloat);
    }
    data.task = task;
  }
  if (data.task == "classification") return;
  ESRUN_CHECK(config.data.label_noise.kind == NoiseKind::None, c.where("data.label_noise.kind"), ": is ",
              to_string(config.data.label_noise.kind), ", but ", data.name, " is a ", data.task,
              " task: label noise flips class labels; set kind to none");
  ESRUN_CHECK(config.train.label_smoothing == 0.0, c.where("train.label_smoothing"), ": is ",
              config.train.label_smoothing, ", but ", data.name, " is a ", data.task, " task; set 0");
  if (data.task != "regression" || !config.task.standardize) return;
  const auto targets = data.train.targets.to(torch::kDouble);
  data.target_mean = targets.mean().item<double>();
  const double std = data.train.size() > 1 ? targets.std().item<double>() : 0.0;
  data.target_std = std > 0 ? std : 1.0;
  for (Split* split : {&data.train, &data.test})
    split->targets = ((split->targets.to(torch::kDouble) - data.target_mean) / data.target_std).to(torch::kFloat);
}

}  // namespace

std::vector<int64_t> Dataset::input_shape() const {
  if (train.files) return {train.files->channels, train.files->height, train.files->width};
  const auto sizes = train.inputs.sizes();
  return {sizes.begin() + 1, sizes.end()};
}

DatasetRegistry& datasets() {
  static DatasetRegistry registry("dataset");
  return registry;
}

void fail_without_matio(const DataOptions& options) {
  ESRUN_FAIL(options.where("data.name"), ": ", options.name, " reads MAT files with libmatio, and this esrun was built with ESRUN_WITH_MATIO=OFF; "
             "rebuild with -DESRUN_WITH_MATIO=ON (Debian: libmatio-dev)");
}

void fail_without_opencv(const DataOptions& options) {
  ESRUN_FAIL(options.where("data.name"), ": ", options.name, " needs OpenCV, and this esrun was built with ESRUN_WITH_OPENCV=OFF; rebuild "
             "with -DESRUN_WITH_OPENCV=ON or choose cifar10/cifar100");
}

void channel_statistics(const torch::Tensor& images, std::vector<double>& mean, std::vector<double>& std) {
  const auto pixels = images.to(torch::kDouble).div(255.0).transpose(0, 1).flatten(1);
  const auto m = pixels.mean(1), s = pixels.std(1);
  mean.assign(m.data_ptr<double>(), m.data_ptr<double>() + m.numel());
  std.assign(s.data_ptr<double>(), s.data_ptr<double>() + s.numel());
}

DataIdentity identify(const Dataset& data) {
  const auto bytes = [](const torch::Tensor& t) {
    if (!t.defined()) return std::string();
    const auto c = t.cpu().contiguous();
    return std::string(static_cast<const char*>(c.data_ptr()), static_cast<size_t>(c.nbytes()));
  };
  return DataIdentity{data.name, data.train.size(),
                      fmt::format("{:016x}", fnv1a64(bytes(data.train.source_index) + bytes(data.train.targets)))};
}

Dataset load_dataset(const RunConfig& config) {
  const DataOptions& options = config.data;
  const auto& c = config.resolved;
  Dataset data = datasets().create(options.name, c.where("data.name"), options);
  // One stream per split, so choosing a training subset never changes which test samples are kept.
  if (options.train_subset) {
    auto gen = make_generator(options.seed, "train_subset");
    data.train = take_subset(data.train, *options.train_subset, gen, c.where("data.train_subset"));
  }
  if (options.test_subset) {
    auto gen = make_generator(options.seed, "test_subset");
    data.test = take_subset(data.test, *options.test_subset, gen, c.where("data.test_subset"));
  }
  apply_task(data, config);
  if (options.augment.mean) {  // an image dataset (load_run_config checks); the channel count is known now
    const auto channels = static_cast<size_t>(data.input_shape()[0]);
    for (const char* key : {"data.augment.mean", "data.augment.std"}) {
      const auto& values = std::string(key) == "data.augment.mean" ? *options.augment.mean : *options.augment.std;
      ESRUN_CHECK(values.size() == channels, c.where(key), ": ", values.size(), " values, but ", data.name, "'s images have ",
                  channels, " channels");
    }
    data.mean = *options.augment.mean;
    data.std = *options.augment.std;
  }
  data.clean_labels = data.train.targets.clone();
  data.noisy_mask = torch::zeros({data.train.size()}, torch::kBool);
  if (options.label_noise.kind != NoiseKind::None && options.label_noise.ratio > 0) {
    auto noisy = corrupt_labels(data.train.targets, data.num_classes, options.label_noise);
    data.train.targets = noisy.labels;
    data.noisy_mask = noisy.mask;
  }
  return data;
}

}  // namespace esrun
