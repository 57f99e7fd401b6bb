#include "esrun/train/trainer.h"

#include "esrun/core/error.h"
#include "esrun/core/rng.h"
#include "esrun/core/timer.h"
#include "esrun/core/torch_compat.h"
#include "esrun/optim/optimizer.h"
#include "esrun/train/loss.h"

namespace esrun {
namespace {

std::shared_ptr<Model> build_model(const RunConfig& config, const ImageDataset& data, torch::Device device) {
  ModelOptions options = config.model;
  options.num_classes = data.num_classes;
  options.in_channels = data.train.images.size(1);
  // Module initialisers draw from the global generator: seed it from the model stream for the
  // construction only, so initial weights depend on the run seed alone.
  std::shared_ptr<Model> model;
  {
    compat::ScopedGlobalSeed seeded(derive_seed(config.seed, "model_init"));
    model = models().create(options.name, config.resolved.where("model.name"), options);
  }
  model->to(device);
  return model;
}

ImageSplit to_device(const ImageSplit& split, torch::Device device) {
  return ImageSplit{split.images.to(device), split.labels.to(device), split.source_index.to(device)};
}

// Multiplies two optional weight vectors (undefined = all ones).
torch::Tensor combine_weights(const torch::Tensor& a, const torch::Tensor& b) {
  if (!a.defined()) return b;
  if (!b.defined()) return a;
  return a * b;
}

}  // namespace

Trainer::Trainer(const RunConfig& config, ImageDataset data, torch::Device device)
    : config_(config),
      data_(std::move(data)),
      device_(device),
      augment_(config.data.augment, Normalizer(data_.mean, data_.std, config.data.augment.normalize, device)),
      eval_normalize_(data_.mean, data_.std, config.data.augment.normalize, device),
      shuffle_gen_(make_generator(config.seed, "shuffle")),
      augment_gen_(make_generator(config.seed, "augment")) {
  data_.train = to_device(data_.train, device_);
  data_.test = to_device(data_.test, device_);
  data_.noisy_mask = data_.noisy_mask.to(device_);
  model_ = build_model(config_, data_, device_);
  optimizer_ = optimizers().create(config_.optimizer.name, config_.resolved.where("optimizer.name"), config_.optimizer,
                                   model_->parameters());
  schedule_ = schedules().create(config_.schedule.name, config_.resolved.where("schedule.name"), config_.schedule,
                                 config_.optimizer.lr, static_cast<double>(config_.train.epochs));
  const PolicyContext context{data_.train.size(), config_.train.epochs, data_.num_classes, device_,
                              derive_seed(config_.seed, "policy")};
  policy_ = samplers().create(config_.sampler.name, config_.resolved.where("sampler.name"), config_.sampler, context);
}

void Trainer::fit(const std::function<void(const EpochRecord&)>& on_epoch) {
  for (int64_t epoch = 0; epoch < config_.train.epochs; ++epoch) on_epoch(train_epoch(epoch));
}

EpochRecord Trainer::train_epoch(int64_t epoch) {
  EpochRecord record;
  record.epoch = epoch;
  PhaseTimes& time = record.time;
  PhaseClock clock(device_);
  const auto epoch_start = std::chrono::steady_clock::now();
  const double smoothing = config_.train.label_smoothing;
  const bool track_noise = config_.data.label_noise.kind != NoiseKind::None;

  model_->train();
  const EpochPlan plan = policy_->plan_epoch(epoch);
  const int64_t planned = plan.indices.size(0);
  const auto shuffle = torch::randperm(planned, shuffle_gen_, torch::kLong).to(device_);
  const auto order = plan.indices.index_select(0, shuffle);
  const auto order_weights = plan.weights.defined() ? plan.weights.index_select(0, shuffle) : torch::Tensor();
  const bool scoring = policy_->needs_scores(epoch);
  clock.lap(time.select);

  const int64_t meta = config_.sampler.meta_batch;
  const int64_t steps = config_.sampler.drop_last ? planned / meta : (planned + meta - 1) / meta;
  const auto sum_options = torch::TensorOptions().dtype(torch::kDouble).device(device_);
  auto loss_sum = torch::zeros({}, sum_options), correct_sum = torch::zeros({}, sum_options),
       noisy_sum = torch::zeros({}, sum_options);
  record.lr = schedule_->lr(static_cast<double>(epoch));

  for (int64_t step = 0; step < steps; ++step) {
    const int64_t begin = step * meta, size = std::min(meta, planned - begin);
    const Batch batch = make_batch(order.narrow(0, begin, size));
    const auto batch_weights = order_weights.defined() ? order_weights.narrow(0, begin, size) : torch::Tensor();
    clock.lap(time.data);

    torch::Tensor scores;
    if (scoring) {
      scores = score(batch);
      record.samples_forward += size;
      clock.lap(time.score_forward);
    }
    const Selection selection = policy_->select(batch, scores);
    clock.lap(time.select);

    torch::Tensor indices = batch.indices, inputs = batch.inputs, targets = batch.targets, weights = batch_weights;
    if (selection.positions.defined()) {
      indices = indices.index_select(0, selection.positions);
      inputs = inputs.index_select(0, selection.positions);
      targets = targets.index_select(0, selection.positions);
      if (weights.defined()) weights = weights.index_select(0, selection.positions);
    }
    const double progress = static_cast<double>(epoch) + static_cast<double>(step) / static_cast<double>(steps);
    const StepOutput out = train_step(inputs, targets, combine_weights(weights, selection.weights),
                                      schedule_->lr(progress), schedule_->momentum(progress));
    clock.lap(time.train_step);

    Observation observation;
    {
      torch::NoGradGuard no_grad;
      observation = Observation{epoch, indices, out.losses, logit_grad_sq_norm(out.logits, targets, smoothing),
                                out.logits.argmax(1).eq(targets)};
      loss_sum += observation.losses.sum();
      correct_sum += observation.correct.sum();
      if (track_noise) noisy_sum += data_.noisy_mask.index_select(0, indices).sum();
    }
    record.samples_backward += indices.size(0);
    policy_->observe(observation);
    clock.lap(time.select);
  }

  record.epoch_dataset_size = planned;
  samples_backward_total_ += record.samples_backward;
  record.samples_backward_total = samples_backward_total_;
  const double trained = std::max<int64_t>(1, record.samples_backward);
  record.train_loss = loss_sum.item<double>() / trained;
  record.train_acc = correct_sum.item<double>() / trained;
  if (track_noise) record.noisy_backward_fraction = noisy_sum.item<double>() / trained;
  clock.lap(time.select);
  train_seconds_total_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start).count();
  time.train_total_so_far = train_seconds_total_;

  const bool last = epoch + 1 == config_.train.epochs;
  if (last || (epoch + 1) % config_.train.eval_every == 0) {
    const Evaluation result = evaluate();
    record.evaluated = true;
    record.test_loss = result.loss;
    record.test_acc = result.acc;
    record.test_acc5 = result.acc5;
    clock.lap(time.eval);
  }
  time.epoch_total = std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start).count();
  return record;
}

Batch Trainer::make_batch(const torch::Tensor& indices) {
  return Batch{indices, augment_(data_.train.images.index_select(0, indices), augment_gen_),
               data_.train.labels.index_select(0, indices)};
}

torch::Tensor Trainer::score(const Batch& batch) {
  torch::NoGradGuard no_grad;
  FrozenBatchNorm frozen(*model_);
  return per_sample_loss(model_->forward(batch.inputs), batch.targets, config_.train.label_smoothing);
}

Trainer::StepOutput Trainer::train_step(const torch::Tensor& inputs, const torch::Tensor& targets,
                                        const torch::Tensor& weights, double lr,
                                        std::optional<double> momentum) {
  compat::set_learning_rate(*optimizer_, lr);
  if (momentum) set_momentum(*optimizer_, *momentum);
  const auto logits = model_->forward(inputs);
  const auto losses = per_sample_loss(logits, targets, config_.train.label_smoothing);
  // Weighted methods use mean(w_i * l_i): divided by the batch size, not by the sum of weights.
  const auto loss = weights.defined() ? (losses * weights).mean() : losses.mean();
  optimizer_->zero_grad();
  loss.backward();
  optimizer_->step();
  return StepOutput{logits.detach(), losses.detach()};
}

Evaluation Trainer::evaluate() {
  torch::NoGradGuard no_grad;
  model_->eval();
  const int64_t n = data_.test.size(), batch = config_.train.eval_batch;
  const auto sum_options = torch::TensorOptions().dtype(torch::kDouble).device(device_);
  auto loss_sum = torch::zeros({}, sum_options), top1 = torch::zeros({}, sum_options), top5 = torch::zeros({}, sum_options);
  const bool with_top5 = data_.num_classes > 5;
  for (int64_t begin = 0; begin < n; begin += batch) {
    const int64_t size = std::min(batch, n - begin);
    const auto logits = model_->forward(eval_normalize_(data_.test.images.narrow(0, begin, size)));
    const auto targets = data_.test.labels.narrow(0, begin, size);
    loss_sum += per_sample_loss(logits, targets, 0.0).sum();
    top1 += logits.argmax(1).eq(targets).sum();
    if (with_top5) top5 += std::get<1>(logits.topk(5, 1)).eq(targets.unsqueeze(1)).any(1).sum();
  }
  model_->train();
  Evaluation result;
  const double count = static_cast<double>(std::max<int64_t>(1, n));
  result.loss = loss_sum.item<double>() / count;
  result.acc = top1.item<double>() / count;
  if (with_top5) result.acc5 = top5.item<double>() / count;
  return result;
}

}  // namespace esrun
