// One epoch of DESIGN.md's loop: the policy's plan, shuffled and cut into meta-batches; for each,
// the scoring forward, the selection and the step; then the queue's remainder, the refresh pass,
// the epoch's sums read once, and the evaluation.
#include <spdlog/spdlog.h>

#include <chrono>

#include "esrun/core/error.h"
#include "esrun/core/device.h"
#include "esrun/train/trainer.h"

namespace esrun {
namespace {

// Multiplies two optional weight vectors (undefined = all ones).
torch::Tensor combine_weights(const torch::Tensor& a, const torch::Tensor& b) {
  if (!a.defined()) return b;
  if (!b.defined()) return a;
  return a * b;
}

// Seconds since a start that may lie before a resume (the epoch's seconds_before).
class EpochClock {
 public:
  explicit EpochClock(double seconds_before)
      : start_(std::chrono::steady_clock::now() - std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                      std::chrono::duration<double>(seconds_before))) {}
  double seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }

 private:
  std::chrono::steady_clock::time_point start_;
};

}  // namespace

std::unique_ptr<OpenEpoch> Trainer::begin_epoch(int64_t epoch, torch::Tensor order, torch::Tensor order_weights) {
  const int64_t planned = order.size(0), meta = config_.sampler.meta_batch;
  const int64_t steps = config_.sampler.drop_last ? planned / meta : (planned + meta - 1) / meta;
  auto open = std::make_unique<OpenEpoch>(epoch, std::move(order), std::move(order_weights), steps, device_);
  open->scoring = policy_->needs_scores(epoch);
  open->lr_scale = policy_->lr_scale(epoch);
  const double progress = budget_.by_epochs() ? static_cast<double>(epoch) : budget_.fraction(totals_.spent) * static_cast<double>(epochs_);
  open->record.lr = schedule_->lr(progress) * open->lr_scale;
  return open;
}

void Trainer::expect_epochs() {
  if (budget_.by_epochs()) return;
  const int64_t n = data_.train.size(), meta = config_.sampler.meta_batch;
  const Spent plain{1, config_.sampler.drop_last ? n / meta : (n + meta - 1) / meta, n, 0.0};
  const int64_t expected = budget_.expected_epochs(totals_.spent, totals_.last_epoch, plain, config_.train.epochs);
  expected_epochs_ = parallel_.max({expected})[0];  // seconds differ between ranks; the policies must not
  policy_->expect_epochs(expected_epochs_);
}

Spent Trainer::spent_counts(const OpenEpoch& open) const {
  Spent now = totals_.spent;
  now.steps += open.optimizer_steps;
  now.samples += open.samples_backward;
  return now;
}

Spent Trainer::spent_now(const OpenEpoch& open, double epoch_seconds) {
  Spent now = spent_counts(open);
  now.seconds += epoch_seconds - open.eval_seconds;
  if (budget_.kind() == BudgetKind::Seconds && parallel_.distributed())
    now.seconds = static_cast<double>(parallel_.max({std::llround(now.seconds * 1e6)})[0]) / 1e6;
  return now;
}

double Trainer::schedule_progress(const OpenEpoch& open, int64_t step, const Spent& now) const {
  if (budget_.by_epochs()) return static_cast<double>(open.epoch) + static_cast<double>(step) / static_cast<double>(open.steps);
  return budget_.fraction(now) * static_cast<double>(epochs_);
}

std::optional<EpochRecord> Trainer::train_epoch(int64_t epoch, const FitHooks& hooks) {
  PhaseClock clock(device_, numerics_.per_phase);
  model_->train();
  if (!open_ || open_->epoch != epoch) {
    expect_epochs();
    // The shuffled plan lives where the training images do (one copy per epoch when they are not
    // on the device).
    const EpochPlan plan = policy_->plan_epoch(epoch);
    const auto shuffle = torch::randperm(plan.indices.size(0), streams_.shuffle, torch::kLong).to(plan.indices.device());
    open_ = begin_epoch(epoch, plan.indices.index_select(0, shuffle).to(data_device_),
                        plan.weights.defined() ? plan.weights.index_select(0, shuffle).to(data_device_) : torch::Tensor());
    clock.lap(open_->record.time.select);
  }
  OpenEpoch& open = *open_;
  PhaseTimes& time = open.record.time;
  const int64_t meta = config_.sampler.meta_batch, planned = open.order.size(0);
  announce(epoch, open.next_step, open.steps, open.next_step,
           [&](int64_t step) { return open.order.narrow(0, step * meta, std::min(meta, planned - step * meta)); });
  const EpochClock seconds(open.seconds_before);
  // The collectives' share of this call's phases (multi-process runs).
  const double gathered_before = parallel_.gather_seconds(), reduced_before = parallel_.reduce_seconds();
  const auto account_collectives = [&] {
    time.gather += parallel_.gather_seconds() - gathered_before;
    time.reduce += parallel_.reduce_seconds() - reduced_before;
  };
  while (open.next_step < open.steps) {
    // A steps, samples or seconds budget may end the run within the epoch.
    const Spent now = budget_.by_epochs() ? Spent{} : spent_now(open, seconds.seconds());
    if (!budget_.by_epochs() && budget_.exhausted(now)) break;
    const double progress = schedule_progress(open, open.next_step, now);
    const int64_t steps_before = totals_.spent.steps + open.optimizer_steps;
    run_step(open, clock, progress);
    ++open.next_step;
    if (hooks.on_step)
      hooks.on_step(StepProgress{epoch, epochs(), open.next_step, open.steps, open.images, seconds.seconds(), open.loss,
                                 open.samples_backward, schedule_->lr(progress) * open.lr_scale});
    // Not at the epoch's last step nor at the budget's end: the epoch's own evaluation follows.
    const int64_t every = config_.eval.every_steps, steps_after = totals_.spent.steps + open.optimizer_steps;
    if (every > 0 && open.next_step < open.steps && steps_after / every > steps_before / every &&
        (budget_.by_epochs() || !budget_.exhausted(spent_now(open, seconds.seconds()))))
      evaluate_within(open, clock, hooks, seconds.seconds());
    if (open.next_step < open.steps && hooks.stop_requested && hooks.stop_requested()) {
      check_finite(open);  // never checkpoint a model that a non-finite step has updated
      if (synced_norms_ == 0) parallel_.average_batchnorm(*model_);  // the checkpoint holds the ranks' consensus
      account_collectives();
      clock.settle();
      open.seconds_before = seconds.seconds();
      return std::nullopt;
    }
  }
  const double progress = budget_.by_epochs() ? static_cast<double>(epoch + 1) - 1e-9
                                              : schedule_progress(open, open.steps, spent_now(open, seconds.seconds()));
  EpochRecord record = finish_epoch(open, clock, progress);
  if (synced_norms_ == 0) parallel_.average_batchnorm(*model_);  // synchronised ones agree already
  check_replicas_agree(epoch);
  account_collectives();
  record.time.gather = time.gather, record.time.reduce = time.reduce;
  const Spent before = totals_.spent;
  totals_.spent = spent_now(open, seconds.seconds());
  ++totals_.spent.epochs;
  totals_.last_epoch = totals_.spent - before;
  ESRUN_CHECK(budget_.by_epochs() || budget_.used(totals_.last_epoch) > 0, "epoch ", epoch, " spent nothing of the ",
              to_string(budget_.kind()), " budget (every step skipped: train.on_nan: skip with a non-finite loss?); "
              "the run would never end");
  const int64_t steps_done = open.next_step;
  open_.reset();
  record.time.train_total_so_far = totals_.spent.seconds;
  record.optimizer_steps_total = totals_.spent.steps;
  record.last = budget_.exhausted(totals_.spent);
  if (record.last || (epoch + 1) % config_.train.eval_every == 0) {
    // Evaluation reads its results on the host, so the host clock measures it without a sync.
    const auto eval_start = std::chrono::steady_clock::now();
    record.test = evaluate();
    record.evaluated = true;
    record.time.eval += std::chrono::duration<double>(std::chrono::steady_clock::now() - eval_start).count();
    if (hooks.on_evaluation)
      hooks.on_evaluation(EvaluationPoint{epoch, steps_done, totals_.spent.steps, totals_.spent.samples,
                                          totals_.spent.seconds, record.test});
  }
  record.time.per_phase = numerics_.per_phase;
  record.time.epoch_total = seconds.seconds();
  return record;
}

void Trainer::evaluate_within(OpenEpoch& open, PhaseClock& clock, const FitHooks& hooks, double epoch_seconds) {
  clock.lap(open.record.time.select);
  const auto start = std::chrono::steady_clock::now();
  const Evaluation test = evaluate();
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  Spent now = spent_now(open, epoch_seconds);
  open.eval_seconds += took;
  open.record.time.eval += took;
  clock.restart();  // evaluation is no phase of training
  if (hooks.on_evaluation)
    hooks.on_evaluation(EvaluationPoint{open.epoch, open.next_step, now.steps, now.samples, now.seconds, test});
}

void Trainer::run_step(OpenEpoch& open, PhaseClock& clock, double progress) {
  PhaseTimes& time = open.record.time;
  const int64_t step = open.next_step, meta = config_.sampler.meta_batch;
  const int64_t begin = step * meta, size = std::min(meta, open.order.size(0) - begin);
  const Batch batch = make_batch(open.order.narrow(0, begin, size), batch_seed(open.epoch, step));
  const auto batch_weights =
      open.order_weights.defined() ? to_device_async(open.order_weights.narrow(0, begin, size), device_) : torch::Tensor();
  clock.lap(time.data);

  Scores scores;
  if (open.scoring) {
    scores = score(batch);
    ++totals_.work.forwards[size];
    open.record.samples_forward += size;
    open.images += size;
    clock.lap(time.score_forward);
  }
  const Selection selection = policy_->select(batch, scores);
  clock.lap(time.select);

  if (selection.queued) {
    for (const Batch& queued : *selection.queued)
      train_rows(queued.indices, queued.inputs, queued.targets, {}, progress, open, clock);
    return;
  }
  torch::Tensor indices = batch.indices, inputs = batch.inputs, targets = batch.targets, weights = batch_weights;
  if (selection.positions.defined()) {
    indices = indices.index_select(0, selection.positions);
    inputs = inputs.index_select(0, selection.positions);
    targets = targets.index_select(0, selection.positions);
    if (weights.defined()) weights = weights.index_select(0, selection.positions);
  }
  train_rows(indices, inputs, targets, combine_weights(weights, selection.weights), progress, open, clock);
}

// Non-finite losses are flagged on the device and read here: once per epoch, and before a
// mid-epoch checkpoint.
void Trainer::check_finite(const OpenEpoch& open) const {
  const auto bad_step = static_cast<int64_t>(open.first_bad_step.item<double>());
  ESRUN_CHECK(bad_step < 0, "the training loss became non-finite (NaN or Inf) in epoch ", open.epoch, " at step ",
              bad_step, "; nothing of this epoch was saved, the last checkpoint stays as it was. Lower optimizer.lr, "
              "or set train.on_nan: skip to skip such steps");
}

// The queue's remainder, the policy's forward-only refresh pass, and the epoch's sums read once.
EpochRecord Trainer::finish_epoch(OpenEpoch& open, PhaseClock& clock, double progress) {
  const int64_t epoch = open.epoch;
  PhaseTimes& time = open.record.time;
  for (const Batch& rest : policy_->flush(epoch)) {
    clock.lap(time.select);
    train_rows(rest.indices, rest.inputs, rest.targets, {}, progress, open, clock);
  }
  refresh(epoch, open, clock);

  check_finite(open);
  if (open.skipped_steps > 0)
    spdlog::warn("epoch {}: skipped {} steps with a non-finite loss (train.on_nan: skip)", epoch, open.skipped_steps);

  const double trained = static_cast<double>(std::max<int64_t>(1, open.samples_backward));
  const double loss = open.loss.item<double>(), correct = open.correct.item<double>(), noisy = open.noisy.item<double>();
  clock.lap(time.select);
  clock.settle();

  EpochRecord record = open.record;
  record.epoch_dataset_size = open.order.size(0);
  record.samples_backward = open.samples_backward;
  record.backward_passes = open.backward_passes;
  record.optimizer_steps = open.optimizer_steps;
  record.samples_backward_total = totals_.spent.samples + record.samples_backward;
  record.train_loss = loss / trained;
  record.train_acc = correct / trained;
  if (config_.data.label_noise.kind != NoiseKind::None) record.noisy_backward_fraction = noisy / trained;
  return record;
}

// A forward-only pass the policy asked for (KAKURENBO refreshes its hidden samples' losses).
void Trainer::refresh(int64_t epoch, OpenEpoch& open, PhaseClock& clock) {
  auto rows = policy_->refresh_indices(epoch);
  if (!rows.defined() || rows.size(0) == 0) return;
  rows = rows.to(data_device_);
  PhaseTimes& time = open.record.time;
  const int64_t meta = config_.sampler.meta_batch, count = (rows.size(0) + meta - 1) / meta;
  const auto part = [&](int64_t i) { return rows.narrow(0, i * meta, std::min(meta, rows.size(0) - i * meta)); };
  // Seeded after the epoch's steps, so that no refresh batch shares a training batch's seed.
  announce(epoch, 0, count, open.steps, part);
  clock.lap(time.select);
  for (int64_t i = 0; i < count; ++i) {
    const Batch batch = make_batch(part(i), batch_seed(epoch, open.steps + i));
    const int64_t size = batch.indices.size(0);
    const auto share = parallel_.share(size);
    const auto inputs = batch.inputs.narrow(0, share.begin, share.size), targets = batch.targets.narrow(0, share.begin, share.size);
    SampleColumns columns = SampleColumns::none(device_);
    if (share.size > 0) {
      const auto outputs = forward_no_grad(inputs);
      columns = measure(outputs, targets, task_->loss(outputs, targets));
    } else if (synced_norms_ > 0) {
      forward_no_grad(inputs);  // no rows, but its BatchNorm statistics' collectives
    }
    Observation observation{gather(columns, size)};
    ++totals_.work.forwards[size];
    open.record.samples_forward += size;
    clock.lap(time.score_forward);
    observation.epoch = epoch;
    observation.indices = batch.indices;
    observation.trained = false;
    policy_->observe(observation);
    clock.lap(time.select);
  }
}

void Trainer::train_rows(const torch::Tensor& indices_in, const torch::Tensor& inputs_in, const torch::Tensor& targets_in,
                         const torch::Tensor& weights_in, double progress, OpenEpoch& open, PhaseClock& clock) {
  // A steps or samples budget ends exactly: no step past it, the last one trimmed to its samples.
  const Spent spent = spent_counts(open);
  const int64_t left = budget_.samples_left(spent);
  if ((budget_.kind() == BudgetKind::Steps || budget_.kind() == BudgetKind::Samples) && budget_.exhausted(spent)) return;
  const auto within = [&](const torch::Tensor& t) { return t.defined() && t.size(0) > left ? t.narrow(0, 0, left) : t; };
  const torch::Tensor indices = within(indices_in), inputs = within(inputs_in), targets = within(targets_in),
                      weights = within(weights_in);
  const int64_t rows = indices.size(0);
  if (rows == 0) return;
  const auto share = parallel_.share(rows);
  const auto mine = [&](const torch::Tensor& t) { return t.defined() ? t.narrow(0, share.begin, share.size) : t; };
  const StepOutput out = train_step(mine(inputs), mine(targets), mine(weights), schedule_->lr(progress) * open.lr_scale,
                                    schedule_->momentum(progress), rows);
  open.images += indices.size(0);
  open.backward_passes += out.passes;
  ++open.optimizer_steps;
  ++totals_.work.steps[rows];
  clock.lap(open.record.time.train_step);
  if (!out.loss.defined()) {
    ++open.skipped_steps;
    return;
  }
  {
    torch::NoGradGuard no_grad;
    const auto bad = torch::isfinite(out.loss).logical_not() & open.first_bad_step.lt(0);
    open.first_bad_step = torch::where(bad, torch::full_like(open.first_bad_step, static_cast<double>(open.next_step)),
                                       open.first_bad_step);
  }
  Observation observation{gather(out.rows, rows)};
  observation.epoch = open.epoch;
  observation.indices = indices;
  {
    torch::NoGradGuard no_grad;
    open.loss += observation.losses.sum();
    open.correct += observation.correct.sum();
    if (config_.data.label_noise.kind != NoiseKind::None) open.noisy += data_.noisy_mask.index_select(0, indices).sum();
  }
  open.samples_backward += indices.size(0);
  policy_->observe(observation);
  clock.lap(open.record.time.select);
}

}  // namespace esrun
