// The step: forwards in the configured precision, the scoring forward, micro-batches, the
// weighted training step with its backward pass, and the per-sample columns both yield.
#include "esrun/core/torch_compat.h"
#include "esrun/optim/optimizer.h"
#include "esrun/train/trainer.h"

namespace esrun {

// Every forward (training, scoring, evaluation) passes here, so rows picked out of a batch by
// index_select (which returns the default layout) reach the model channels-last too.
torch::Tensor Trainer::forward(const torch::Tensor& inputs) {
  compat::AutocastGuard autocast(device_, numerics_.autocast);
  const auto x = config_.channels_last && inputs.dim() == 4 ? inputs.contiguous(torch::MemoryFormat::ChannelsLast) : inputs;
  return model_->forward(x).to(torch::kFloat);  // losses and scores in fp32 whatever the precision
}

// Inference mode (no autograd bookkeeping, no version counters) in the training precision.
torch::Tensor Trainer::forward_no_grad(const torch::Tensor& inputs) {
  c10::InferenceMode inference;
  FrozenBatchNorm frozen(*model_);
  return forward(inputs);
}

SampleColumns Trainer::measure(const torch::Tensor& outputs, const torch::Tensor& targets, const torch::Tensor& losses,
                               bool confidence) const {
  torch::NoGradGuard no_grad;
  SampleColumns rows;
  rows.losses = losses.detach();
  rows.grad_norms = task_->grad_sq_norm(outputs, targets);
  rows.correct = task_->correct(outputs, targets);
  if (confidence) rows.confidence = task_->confidence(outputs, targets);
  return rows;
}

SampleColumns Trainer::gather(const SampleColumns& local, int64_t rows) {
  if (!parallel_.distributed()) return local;
  return local.unpack(parallel_.gather(local.pack(), rows));  // one all-gather of every column
}

std::vector<std::pair<int64_t, int64_t>> Trainer::micro_batches(int64_t local, int64_t total) const {
  const int64_t world = parallel_.world_size();
  const int64_t largest = synced_norms_ > 0 ? (total + world - 1) / world : local;
  const int64_t micro = std::max<int64_t>(1, config_.train.accumulate.value_or(largest));
  std::vector<std::pair<int64_t, int64_t>> passes;
  for (int64_t begin = 0; begin < largest; begin += micro) {
    const int64_t from = std::min(begin, local);
    passes.emplace_back(from, std::min(micro, local - from));
  }
  return passes;
}

Scores Trainer::score(const Batch& batch) {
  // With train.accumulate the scoring forward runs in micro-batches too (memory), each as the
  // whole batch would have seen it (no gradient, BatchNorm frozen). Each rank scores its share.
  const auto share = parallel_.share(batch.inputs.size(0));
  std::vector<SampleColumns> parts;
  for (const auto& [begin, size] : micro_batches(share.size, batch.inputs.size(0))) {
    const auto outputs = forward_no_grad(batch.inputs.narrow(0, share.begin + begin, size));
    if (size == 0) continue;  // an empty pass of synchronised BatchNorm
    c10::InferenceMode inference;
    const auto targets = batch.targets.narrow(0, share.begin + begin, size);
    parts.push_back(measure(outputs, targets, task_->loss(outputs, targets), /*confidence=*/false));
  }
  if (parts.empty()) {
    SampleColumns none = SampleColumns::none(device_);
    none.confidence = torch::Tensor();  // as the other ranks' scores: one all-gather of three columns
    return gather(none, batch.inputs.size(0));
  }
  SampleColumns local;
  {
    c10::InferenceMode inference;
    local = SampleColumns::cat(parts);
  }
  return gather(local, batch.inputs.size(0));
}

Trainer::StepOutput Trainer::train_step(const torch::Tensor& inputs, const torch::Tensor& targets,
                                        const torch::Tensor& weights, double lr, std::optional<double> momentum,
                                        int64_t total_rows) {
  compat::set_learning_rate(*optimizer_, lr, lr_scales_);
  if (momentum) set_momentum(*optimizer_, *momentum);
  // The rows pass in micro-batches of at most train.accumulate (one pass without it). Each pass
  // adds the gradient of its mean(w_i * l_i) times its share of the rows, so the one step sees the
  // gradient of mean(w_i * l_i) over all rows.
  const int64_t rows = inputs.size(0), total = total_rows < 0 ? rows : total_rows;
  compat::zero_grad(*optimizer_);
  std::vector<SampleColumns> measured;
  std::vector<torch::Tensor> parts;
  const auto plan = micro_batches(rows, total);
  for (size_t pass = 0; pass < plan.size(); ++pass) {
    const auto [begin, size] = plan[pass];
    // Its backward pass starts the gradients' all-reduces. Not with synchronised BatchNorm: its
    // statistics' all-reduces in the backward pass must meet the buckets in one order on every
    // rank, which a parameter without a gradient on some rank would break; the buckets then start
    // after the backward pass.
    if (pass + 1 == plan.size() && synced_norms_ == 0) parallel_.arm();
    const auto part_targets = targets.narrow(0, begin, size);
    const auto part_outputs = forward(inputs.narrow(0, begin, size));
    if (size == 0) {  // an empty pass of synchronised BatchNorm: its backward's collectives too
      if (part_outputs.requires_grad()) backward(part_outputs.sum() * 0.0);
      continue;
    }
    const auto part_losses = task_->loss(part_outputs, part_targets);
    const auto part = weighted_mean_loss(part_losses, weights.defined() ? weights.narrow(0, begin, size) : weights) *
                      (static_cast<double>(size) / static_cast<double>(total));
    backward(part);
    measured.push_back(measure(part_outputs.detach(), part_targets, part_losses));
    parts.push_back(part.detach());
  }
  SampleColumns all = measured.empty() ? SampleColumns::none(device_) : SampleColumns::cat(measured);
  auto loss = parts.empty() ? torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat).device(device_))
                            : (parts.size() == 1 ? parts[0] : torch::stack(parts).sum());
  loss = parallel_.reduce_gradients(loss);  // multi-process: every rank's sum
  // train.on_nan: skip needs the loss on the host before the update (one read per step); the
  // skipped step's gradients are never applied and the next step zeroes them.
  const auto passes = static_cast<int64_t>(parts.size());
  if (config_.train.skip_nan && !torch::isfinite(loss).item<bool>()) return StepOutput{std::move(all), {}, passes};
  finish_step();
  return StepOutput{std::move(all), loss, passes};
}

void Trainer::backward(const torch::Tensor& loss) {
  if (numerics_.scaler) numerics_.scaler->scale(loss).backward();  // fp16: scaled, unscaled in finish_step
  else loss.backward();
}

void Trainer::finish_step() {
  // fp16: the gradients are unscaled first, and a step whose gradients overflowed is skipped (one
  // host read).
  if (numerics_.scaler && !numerics_.scaler->unscale(model_->parameters())) {
    numerics_.scaler->update();
    return;
  }
  if (config_.train.clip_grad_norm) clip_grad_norm(model_->parameters(), *config_.train.clip_grad_norm);
  optimizer_->step();
  if (numerics_.scaler) numerics_.scaler->update();
}

}  // namespace esrun
