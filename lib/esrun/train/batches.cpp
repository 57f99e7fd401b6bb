// The batches: each step's augmentation seed, training batches gathered (or decoded) and augmented,
// the un-augmented rows esrun score measures, and the evaluation over the test split.
#include "esrun/core/device.h"
#include "esrun/core/error.h"
#include "esrun/core/rng.h"
#include "esrun/core/torch_compat.h"
#include "esrun/train/trainer.h"

namespace esrun {

uint64_t Trainer::batch_seed(int64_t epoch, int64_t step) const {
  return derive_seed(derive_seed(streams_.augment_seed, static_cast<uint64_t>(epoch)), static_cast<uint64_t>(step));
}

void Trainer::announce(int64_t epoch, int64_t first, int64_t end, int64_t seed_step0,
                       const std::function<torch::Tensor(int64_t)>& rows) {
  if (!train_loader_) return;
  std::vector<BatchRequest> upcoming;
  for (int64_t i = first; i < end; ++i) upcoming.push_back({rows(i), batch_seed(epoch, seed_step0 + i - first)});
  train_loader_->announce(std::move(upcoming));
}

Batch Trainer::make_batch(const torch::Tensor& indices, uint64_t seed) {
  // `indices` live where the training images do; the batch ends on the device.
  torch::Tensor inputs;
  if (train_loader_) {
    inputs = normalize_(train_loader_->load(indices, seed));  // decoded and augmented by the workers
  } else {
    auto gen = compat::make_cpu_generator(seed);
    inputs = augment_(data_.train.inputs.index_select(0, indices), gen);
  }
  return Batch{to_device_async(indices, device_), inputs,
               to_device_async(data_.train.targets.index_select(0, indices), device_)};
}

torch::Tensor Trainer::plain_inputs(const torch::Tensor& indices) const {
  ESRUN_CHECK(data_.train.in_memory(), data_.name, "'s training images are decoded from files with the training "
              "augmentation; scoring needs an in-memory training split");
  return normalize_(data_.train.inputs.index_select(0, indices.to(data_device_)));
}

Evaluation Trainer::evaluate() {
  torch::NoGradGuard no_grad;
  model_->eval();
  // Each rank evaluates its share of the test split; the per-sample rows are gathered.
  const int64_t n = data_.test.size(), batch = config_.train.eval_batch;
  const auto share = parallel_.share(n);
  const int64_t end = share.begin + share.size;
  const auto rows = [&](int64_t begin) { return torch::arange(begin, std::min(end, begin + batch), torch::kLong); };
  if (test_loader_) {
    std::vector<BatchRequest> all;
    for (int64_t begin = share.begin; begin < end; begin += batch) all.push_back({rows(begin), 0});
    test_loader_->announce(std::move(all));
  }
  std::vector<torch::Tensor> per_sample;
  for (int64_t begin = share.begin; begin < end; begin += batch) {
    const int64_t size = std::min(batch, end - begin);
    const auto inputs = normalize_(test_loader_ ? test_loader_->load(rows(begin), 0) : data_.test.inputs.narrow(0, begin, size));
    per_sample.push_back(task_->eval_rows(forward(inputs), data_.test.targets.narrow(0, begin, size)));
  }
  model_->train();
  const auto local = per_sample.empty() ? torch::zeros({0, 8}, torch::kDouble) : torch::cat(per_sample).cpu();
  return task_->eval_result(parallel_.gather(local, n));
}

}  // namespace esrun
