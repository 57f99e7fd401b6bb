#include "esrun/train/trainer.h"

#include <spdlog/spdlog.h>

#include "esrun/core/device.h"
#include "esrun/core/error.h"
#include "esrun/core/rng.h"
#include "esrun/core/timer.h"
#include "esrun/core/torch_compat.h"
#include "esrun/models/batch_norm.h"
#include "esrun/optim/optimizer.h"
#include "esrun/train/loss.h"

namespace esrun {
namespace {

std::shared_ptr<Model> build_model(const RunConfig& config, const Dataset& data, const Task& task, torch::Device device) {
  ModelOptions options = config.model;
  options.outputs = task.outputs();
  options.per_token = task.per_token();
  options.device = device.str();
  options.input_shape = data.input_shape();
  options.vocab_size = data.vocab_size;
  // Module initialisers draw from the global generator: seed it from the model stream for the
  // construction only, so initial weights depend on the run seed alone.
  std::shared_ptr<Model> model;
  {
    compat::ScopedGlobalSeed seeded(derive_seed(config.seed, "model_init"));
    model = models().create(options.name, config.resolved.where("model.name"), options);
  }
  model->to(device);
  if (config.channels_last)
    for (auto& p : model->parameters())
      if (p.dim() == 4) p.set_data(p.data().contiguous(torch::MemoryFormat::ChannelsLast));
  return model;
}

std::optional<at::ScalarType> autocast_type(Precision precision) {
  if (precision == Precision::Bf16) return at::kBFloat16;
  if (precision == Precision::Fp16) return at::kHalf;
  return std::nullopt;
}

// Targets and, for an in-memory split, the inputs on `device`.
Split to_device(const Split& split, torch::Device device) {
  return Split{split.in_memory() ? split.inputs.to(device) : torch::Tensor(), split.targets.to(device),
                    split.source_index.to(device), split.files};
}

// The checkpoint key of the dropout generator's state: CPU and CUDA states do not convert.
std::string dropout_generator_key(torch::Device device) {
  return std::string("dropout_generator_") + (device.is_cuda() ? "cuda" : "cpu");
}

// Multiplies two optional weight vectors (undefined = all ones).
torch::Tensor combine_weights(const torch::Tensor& a, const torch::Tensor& b) {
  if (!a.defined()) return b;
  if (!b.defined()) return a;
  return a * b;
}

}  // namespace

Trainer::Trainer(const RunConfig& config, Dataset data, torch::Device device, std::shared_ptr<ProcessGroup> group,
                 const PolicyFactory& make_policy)
    : config_(config),
      data_(std::move(data)),
      device_(device),
      parallel_(std::move(group)),
      augment_(config.data.augment, Normalizer(data_.mean, data_.std, config.data.augment.normalize, device)),
      normalize_(data_.mean, data_.std, config.data.augment.normalize, device),
      shuffle_gen_(make_generator(config.seed, "shuffle")),
      dropout_gen_(at::globalContext().defaultGenerator(device)),
      augment_seed_(derive_seed(config.seed, "augment")) {
  const bool in_memory = data_.train.in_memory();
  ESRUN_CHECK(in_memory || !config_.data.on_device.value_or(false), config_.resolved.where("data.on_device"),
              ": is true, but ", data_.name, " is decoded from files batch by batch on CPU threads; set auto or false");
  if (in_memory && config_.data.on_device.value_or(true)) data_.train = to_device(data_.train, device_);
  data_device_ = in_memory ? data_.train.inputs.device() : torch::Device(torch::kCPU);
  if (!in_memory || !data_.test.in_memory()) {
    const int workers = static_cast<int>(config_.data.loader.workers > 0 ? config_.data.loader.workers : torch::get_num_threads());
    const int64_t prefetch = config_.data.loader.prefetch;
    if (!in_memory) train_loader_ = std::make_unique<ImageFileLoader>(data_.train.files, workers, prefetch, device_.is_cuda());
    if (!data_.test.in_memory())
      test_loader_ = std::make_unique<ImageFileLoader>(data_.test.files, workers, prefetch, device_.is_cuda());
  }
  ESRUN_CHECK(data_.test.size() == 0 || data_.test.size() >= parallel_.world_size(), data_.name, "'s test split has ", data_.test.size(),
              " samples, fewer than the ", parallel_.world_size(), " ranks that evaluate a share each");
  autocast_ = autocast_type(config_.precision);
  if (config_.precision == Precision::Fp16) scaler_ = std::make_unique<GradScaler>(device_);
  // auto = phases: on CUDA they come from events, so they cost no host synchronisation.
  per_phase_ = config_.timing != "epoch";
  if (device_.is_cuda()) compat::set_cudnn_benchmark(config_.cudnn_benchmark);
  data_.test = to_device(data_.test, device_);
  data_.noisy_mask = data_.noisy_mask.to(device_);
  task_ = tasks().create(data_.task, config_.resolved.where("task.name"), config_.task,
                         TaskContext{data_.num_classes, data_.target_std, data_.metric, data_.vocab_size});
  model_ = build_model(config_, data_, *task_, device_);
  {
    // Each rank draws its own dropout masks (rank 0 those of a single process).
    const uint64_t seed = derive_seed(config_.seed, "dropout");
    std::lock_guard<std::mutex> lock(dropout_gen_.mutex());
    dropout_gen_.set_current_seed(parallel_.rank() == 0 ? seed : derive_seed(seed, static_cast<uint64_t>(parallel_.rank())));
  }
  if (config_.distributed.sync_bn && parallel_.distributed()) {
    synced_norms_ = synchronise_batch_norm(*model_, [this](const torch::Tensor& t) { return parallel_.sum_over_ranks(t); });
    if (synced_norms_ == 0 && config_.model.name == "torchscript")
      spdlog::warn("distributed.sync_bn: a TorchScript model's BatchNorm layers are its own and stay per rank");
  }
  parallel_.attach(model_->parameters());
  std::vector<torch::Tensor> initial = model_->parameters();
  for (const auto& buffer : model_->buffers()) initial.push_back(buffer);
  parallel_.broadcast(initial);
  optimizer_ = make_optimizer(config_.optimizer, config_.resolved.where("optimizer.name"), *model_);
  lr_scales_ = group_lr_scales(*optimizer_, *model_);
  const PolicyContext context{data_.train.size(), config_.train.epochs, data_.num_classes, device_,
                              derive_seed(config_.seed, "policy"), identify(data_)};
  policy_ = make_policy ? make_policy(context)
                        : samplers().create(config_.sampler.name, config_.resolved.where("sampler.name"), config_.sampler, context);
  epochs_ = policy_->epochs(config_.train.epochs);
  schedule_ = schedules().create(config_.schedule.name, config_.resolved.where("schedule.name"), config_.schedule,
                                 config_.optimizer.lr, static_cast<double>(epochs_));
}

// An epoch in progress: what a checkpoint taken between two of its steps must hold to continue it.
struct Trainer::OpenEpoch {
  int64_t epoch = 0;
  torch::Tensor order, order_weights;  // the shuffled plan and its loss weights (undefined: 1)
  int64_t steps = 0, next_step = 0;
  bool scoring = false;
  double lr_scale = 1.0;
  EpochRecord record;                  // counters and phase times so far
  torch::Tensor loss, correct, noisy;  // sums on the device, read once per epoch
  torch::Tensor first_bad_step;        // -1, or the first step whose loss was not finite
  int64_t samples_backward = 0, skipped_steps = 0, images = 0, backward_passes = 0;
  double seconds_before = 0;           // spent in this epoch before an interruption
};

Trainer::~Trainer() = default;

bool Trainer::fit(int64_t first_epoch, const FitHooks& hooks) {
  for (int64_t epoch = first_epoch; epoch < epochs_; ++epoch) {
    const auto record = train_epoch(epoch, hooks);
    if (!record) return false;
    if (hooks.on_epoch && !hooks.on_epoch(*record)) return epoch + 1 == epochs_;
  }
  return true;
}

std::optional<int64_t> Trainer::open_epoch() const {
  return open_ ? std::optional<int64_t>(open_->epoch) : std::nullopt;
}

namespace {
torch::Tensor or_empty(const torch::Tensor& t, torch::ScalarType type) {
  return t.defined() ? t.cpu() : torch::empty({0}, type);
}
}  // namespace

void Trainer::save(torch::serialize::OutputArchive& archive) {
  torch::serialize::OutputArchive model, optimizer, policy;
  model_->save(model);
  optimizer_->save(optimizer);
  policy_->save(policy);
  archive.write("model", model);
  archive.write("optimizer", optimizer);
  archive.write("policy", policy);
  save_generator(archive, "shuffle_generator", shuffle_gen_);
  // Under the device type's name: a run resumed on another device type cannot take the state.
  if (parallel_.distributed()) {
    // Every rank's dropout stream, one row each.
    torch::Tensor state;
    {
      std::lock_guard<std::mutex> lock(dropout_gen_.mutex());
      state = dropout_gen_.get_state();
    }
    archive.write(dropout_generator_key(device_) + "_ranks", parallel_.gather(state.unsqueeze(0), parallel_.world_size()));
  } else {
    save_generator(archive, dropout_generator_key(device_), dropout_gen_);
  }
  archive.write("totals", torch::tensor({static_cast<double>(samples_backward_total_), train_seconds_total_}, torch::kDouble));
  if (scaler_) scaler_->save(archive);
  if (!open_) return;
  const OpenEpoch& o = *open_;
  const PhaseTimes& t = o.record.time;
  torch::serialize::OutputArchive open;
  open.write("order", o.order.cpu());
  open.write("order_weights", or_empty(o.order_weights, torch::kFloat));
  open.write("sums", torch::stack({o.loss, o.correct, o.noisy, o.first_bad_step}).cpu());
  open.write("counters", torch::tensor({o.epoch, o.next_step, o.samples_backward, o.skipped_steps, o.images,
                                        o.record.samples_forward, o.backward_passes}, torch::kLong));
  open.write("seconds", torch::tensor({o.seconds_before, t.data, t.score_forward, t.select, t.train_step, t.gather, t.reduce},
                                      torch::kDouble));
  archive.write("open_epoch", open);
}

void Trainer::load(torch::serialize::InputArchive& archive) {
  torch::serialize::InputArchive model, optimizer, policy;
  archive.read("model", model);
  archive.read("optimizer", optimizer);
  archive.read("policy", policy);
  model_->load(model);
  optimizer_->load(optimizer);
  policy_->load(policy);
  load_generator(archive, "shuffle_generator", shuffle_gen_);
  // Checkpoints from another device type or from before issue 14 have none: dropout then goes on
  // from this run's seeded stream.
  // A multi-process run's checkpoint holds every rank's (its world size is the resumed run's).
  torch::Tensor dropout_state;
  if (archive.try_read(dropout_generator_key(device_) + "_ranks", dropout_state)) dropout_state = dropout_state[parallel_.rank()].clone();
  if (dropout_state.defined() || archive.try_read(dropout_generator_key(device_), dropout_state)) {
    std::lock_guard<std::mutex> lock(dropout_gen_.mutex());
    dropout_gen_.set_state(dropout_state);
  }
  torch::Tensor totals;
  archive.read("totals", totals);
  samples_backward_total_ = static_cast<int64_t>(totals[0].item<double>());
  train_seconds_total_ = totals[1].item<double>();
  if (scaler_) scaler_->load(archive);
  open_.reset();
  torch::serialize::InputArchive open;
  if (!archive.try_read("open_epoch", open)) return;
  torch::Tensor order, order_weights, sums, counters, seconds;
  open.read("order", order);
  open.read("order_weights", order_weights);
  open.read("sums", sums);
  open.read("counters", counters);
  open.read("seconds", seconds);
  open_ = begin_epoch(counters[0].item<int64_t>(), order.to(data_device_),
                      order_weights.numel() > 0 ? order_weights.to(data_device_) : torch::Tensor());
  OpenEpoch& o = *open_;
  sums = sums.to(device_);
  o.loss = sums[0], o.correct = sums[1], o.noisy = sums[2], o.first_bad_step = sums[3];
  o.next_step = counters[1].item<int64_t>();
  o.samples_backward = counters[2].item<int64_t>();
  o.skipped_steps = counters[3].item<int64_t>();
  o.images = counters[4].item<int64_t>();
  o.record.samples_forward = counters[5].item<int64_t>();
  o.backward_passes = counters.size(0) > 6 ? counters[6].item<int64_t>() : 0;  // none before issue 15
  PhaseTimes& t = o.record.time;
  o.seconds_before = seconds[0].item<double>();
  t.data = seconds[1].item<double>(), t.score_forward = seconds[2].item<double>();
  t.select = seconds[3].item<double>(), t.train_step = seconds[4].item<double>();
  if (seconds.size(0) > 6) t.gather = seconds[5].item<double>(), t.reduce = seconds[6].item<double>();  // issue 16
}

std::unique_ptr<Trainer::OpenEpoch> Trainer::begin_epoch(int64_t epoch, torch::Tensor order, torch::Tensor order_weights) {
  auto open = std::make_unique<OpenEpoch>();
  open->epoch = epoch;
  open->order = std::move(order);
  open->order_weights = std::move(order_weights);
  const int64_t planned = open->order.size(0), meta = config_.sampler.meta_batch;
  open->steps = config_.sampler.drop_last ? planned / meta : (planned + meta - 1) / meta;
  open->scoring = policy_->needs_scores(epoch);
  open->lr_scale = policy_->lr_scale(epoch);
  open->record.epoch = epoch;
  open->record.lr = schedule_->lr(static_cast<double>(epoch)) * open->lr_scale;
  const auto sum_options = torch::TensorOptions().dtype(torch::kDouble).device(device_);
  open->loss = torch::zeros({}, sum_options);
  open->correct = torch::zeros({}, sum_options);
  open->noisy = torch::zeros({}, sum_options);
  open->first_bad_step = torch::full({}, -1.0, sum_options);
  return open;
}

std::optional<EpochRecord> Trainer::train_epoch(int64_t epoch, const FitHooks& hooks) {
  PhaseClock clock(device_, per_phase_);
  model_->train();
  if (!open_ || open_->epoch != epoch) {
    // The shuffled plan lives where the training images do (one copy per epoch when they are not
    // on the device).
    const EpochPlan plan = policy_->plan_epoch(epoch);
    const auto shuffle = torch::randperm(plan.indices.size(0), shuffle_gen_, torch::kLong).to(plan.indices.device());
    open_ = begin_epoch(epoch, plan.indices.index_select(0, shuffle).to(data_device_),
                        plan.weights.defined() ? plan.weights.index_select(0, shuffle).to(data_device_) : torch::Tensor());
    clock.lap(open_->record.time.select);
  }
  OpenEpoch& open = *open_;
  PhaseTimes& time = open.record.time;
  const int64_t meta = config_.sampler.meta_batch, planned = open.order.size(0);
  const auto step_rows = [&](int64_t step) {
    return open.order.narrow(0, step * meta, std::min(meta, planned - step * meta));
  };
  if (train_loader_) {
    std::vector<BatchRequest> upcoming;
    for (int64_t step = open.next_step; step < open.steps; ++step)
      upcoming.push_back({step_rows(step), batch_seed(epoch, step)});
    train_loader_->announce(std::move(upcoming));
  }
  const auto epoch_start = std::chrono::steady_clock::now() -
                           std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                               std::chrono::duration<double>(open.seconds_before));
  const auto seconds_in_epoch = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start).count();
  };
  // The collectives' share of this call's phases (multi-process runs).
  const double gathered_before = parallel_.gather_seconds(), reduced_before = parallel_.reduce_seconds();
  const auto account_collectives = [&] {
    time.gather += parallel_.gather_seconds() - gathered_before;
    time.reduce += parallel_.reduce_seconds() - reduced_before;
  };

  while (open.next_step < open.steps) {
    const int64_t step = open.next_step, begin = step * meta, size = std::min(meta, planned - begin);
    const Batch batch = make_batch(step_rows(step), batch_seed(epoch, step));
    const auto batch_weights =
        open.order_weights.defined() ? to_device_async(open.order_weights.narrow(0, begin, size), device_) : torch::Tensor();
    clock.lap(time.data);

    Scores scores;
    if (open.scoring) {
      scores = score(batch);
      open.record.samples_forward += size;
      open.images += size;
      clock.lap(time.score_forward);
    }
    const Selection selection = policy_->select(batch, scores);
    clock.lap(time.select);

    const double progress = static_cast<double>(epoch) + static_cast<double>(step) / static_cast<double>(open.steps);
    if (selection.queued) {
      for (const Batch& queued : *selection.queued)
        train_rows(queued.indices, queued.inputs, queued.targets, {}, progress, open, clock);
    } else {
      torch::Tensor indices = batch.indices, inputs = batch.inputs, targets = batch.targets, weights = batch_weights;
      if (selection.positions.defined()) {
        indices = indices.index_select(0, selection.positions);
        inputs = inputs.index_select(0, selection.positions);
        targets = targets.index_select(0, selection.positions);
        if (weights.defined()) weights = weights.index_select(0, selection.positions);
      }
      train_rows(indices, inputs, targets, combine_weights(weights, selection.weights), progress, open, clock);
    }
    ++open.next_step;
    if (hooks.on_step)
      hooks.on_step(StepProgress{epoch, epochs_, open.next_step, open.steps, open.images, seconds_in_epoch(), open.loss,
                                 open.samples_backward, schedule_->lr(progress) * open.lr_scale});
    if (open.next_step < open.steps && hooks.stop_requested && hooks.stop_requested()) {
      check_finite(open);  // never checkpoint a model that a non-finite step has updated
      if (synced_norms_ == 0) parallel_.average_batchnorm(*model_);  // the checkpoint holds the ranks' consensus
      account_collectives();
      clock.settle();
      open.seconds_before = seconds_in_epoch();
      return std::nullopt;
    }
  }
  EpochRecord record = finish_epoch(open, clock);
  if (synced_norms_ == 0) parallel_.average_batchnorm(*model_);  // synchronised ones agree already
  check_replicas_agree(epoch);
  account_collectives();
  record.time.gather = time.gather, record.time.reduce = time.reduce;
  open_.reset();
  train_seconds_total_ += seconds_in_epoch();
  record.time.train_total_so_far = train_seconds_total_;

  const bool last = epoch + 1 == epochs_;
  if (last || (epoch + 1) % config_.train.eval_every == 0) {
    // Evaluation reads its results on the host, so the host clock measures it without a sync.
    const auto eval_start = std::chrono::steady_clock::now();
    const Evaluation result = evaluate();
    record.evaluated = true;
    record.test = result;
    record.time.eval = std::chrono::duration<double>(std::chrono::steady_clock::now() - eval_start).count();
  }
  record.time.per_phase = per_phase_;
  record.time.epoch_total = seconds_in_epoch();
  return record;
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
EpochRecord Trainer::finish_epoch(OpenEpoch& open, PhaseClock& clock) {
  const int64_t epoch = open.epoch, meta = config_.sampler.meta_batch;
  PhaseTimes& time = open.record.time;
  for (const Batch& rest : policy_->flush(epoch)) {
    clock.lap(time.select);
    train_rows(rest.indices, rest.inputs, rest.targets, {}, static_cast<double>(epoch + 1) - 1e-9, open, clock);
  }

  // A forward-only pass the policy asked for (KAKURENBO refreshes its hidden samples' losses).
  auto refresh = policy_->refresh_indices(epoch);
  if (refresh.defined()) refresh = refresh.to(data_device_);
  if (refresh.defined() && refresh.size(0) > 0) {
    // Seeded after the epoch's steps, so that no refresh batch shares a training batch's seed.
    const auto refresh_rows = [&](int64_t begin) { return refresh.narrow(0, begin, std::min(meta, refresh.size(0) - begin)); };
    if (train_loader_) {
      std::vector<BatchRequest> upcoming;
      for (int64_t begin = 0; begin < refresh.size(0); begin += meta)
        upcoming.push_back({refresh_rows(begin), batch_seed(epoch, open.steps + begin / meta)});
      train_loader_->announce(std::move(upcoming));
    }
    clock.lap(time.select);
    for (int64_t begin = 0; begin < refresh.size(0); begin += meta) {
      const int64_t size = std::min(meta, refresh.size(0) - begin);
      const Batch batch = make_batch(refresh_rows(begin), batch_seed(epoch, open.steps + begin / meta));
      const auto share = parallel_.share(size);
      const auto inputs = batch.inputs.narrow(0, share.begin, share.size), targets = batch.targets.narrow(0, share.begin, share.size);
      Observation observation = no_rows();
      if (share.size > 0) {
        const auto outputs = forward_no_grad(inputs);
        observation = measure(outputs, targets, task_->loss(outputs, targets));
      } else if (synced_norms_ > 0) {
        forward_no_grad(inputs);  // no rows, but its BatchNorm statistics' collectives
      }
      observation = parallel_.gather(observation, size);
      open.record.samples_forward += size;
      clock.lap(time.score_forward);
      observation.epoch = epoch;
      observation.indices = batch.indices;
      observation.trained = false;
      policy_->observe(observation);
      clock.lap(time.select);
    }
  }

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
  samples_backward_total_ += record.samples_backward;
  record.samples_backward_total = samples_backward_total_;
  record.train_loss = loss / trained;
  record.train_acc = correct / trained;
  if (config_.data.label_noise.kind != NoiseKind::None) record.noisy_backward_fraction = noisy / trained;
  return record;
}

void Trainer::train_rows(const torch::Tensor& indices, const torch::Tensor& inputs, const torch::Tensor& targets,
                         const torch::Tensor& weights, double progress, OpenEpoch& open, PhaseClock& clock) {
  const int64_t rows = indices.size(0);
  if (rows == 0) return;
  const auto share = parallel_.share(rows);
  const auto mine = [&](const torch::Tensor& t) { return t.defined() ? t.narrow(0, share.begin, share.size) : t; };
  const StepOutput out = train_step(mine(inputs), mine(targets), mine(weights), schedule_->lr(progress) * open.lr_scale,
                                    schedule_->momentum(progress), rows);
  open.images += indices.size(0);
  open.backward_passes += out.passes;
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
  Observation observation = parallel_.gather(out.rows, rows);
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

// Every forward (training, scoring, evaluation) passes here, so rows picked out of a batch by
// index_select (which returns the default layout) reach the model channels-last too.
torch::Tensor Trainer::forward(const torch::Tensor& inputs) {
  compat::AutocastGuard autocast(device_, autocast_);
  const auto x = config_.channels_last && inputs.dim() == 4 ? inputs.contiguous(torch::MemoryFormat::ChannelsLast) : inputs;
  return model_->forward(x).to(torch::kFloat);  // losses and scores in fp32 whatever the precision
}

// Inference mode (no autograd bookkeeping, no version counters) in the training precision.
torch::Tensor Trainer::forward_no_grad(const torch::Tensor& inputs) {
  c10::InferenceMode inference;
  FrozenBatchNorm frozen(*model_);
  return forward(inputs);
}

Observation Trainer::measure(const torch::Tensor& outputs, const torch::Tensor& targets, const torch::Tensor& losses) const {
  torch::NoGradGuard no_grad;
  Observation rows;
  rows.losses = losses.detach();
  rows.grad_norms = task_->grad_sq_norm(outputs, targets);
  rows.correct = task_->correct(outputs, targets);
  rows.confidence = task_->confidence(outputs, targets);
  return rows;
}

void Trainer::check_replicas_agree(int64_t epoch) {
  if (!parallel_.distributed() || !config_.distributed.check_sync) return;
  torch::serialize::OutputArchive policy;
  policy_->save(policy);
  std::ostringstream policy_bytes;
  policy.save_to(policy_bytes);
  std::string model_bytes;
  for (const auto& p : model_->parameters()) {
    const auto host = p.detach().contiguous().cpu();
    model_bytes.append(static_cast<const char*>(host.data_ptr()), static_cast<size_t>(host.nbytes()));
  }
  parallel_.require_same(fmt::format("the policy's state and the model after epoch {} (distributed.check_sync: "
                                     "checksums of policy, model)", epoch + 1),
                         fmt::format("{:016x}, {:016x}", fnv1a64(policy_bytes.str()), fnv1a64(model_bytes)),
                         "the replicas diverged: they no longer observe, select or step alike");
}

uint64_t Trainer::batch_seed(int64_t epoch, int64_t step) const {
  return derive_seed(derive_seed(augment_seed_, static_cast<uint64_t>(epoch)), static_cast<uint64_t>(step));
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

Observation Trainer::no_rows() const {
  const auto floats = torch::TensorOptions().dtype(torch::kFloat).device(device_);
  Observation none;
  none.losses = torch::zeros({0}, floats);
  none.grad_norms = torch::zeros({0}, floats);
  none.correct = torch::zeros({0}, floats.dtype(torch::kBool));
  none.confidence = torch::zeros({0}, floats);
  return none;
}

Scores Trainer::score(const Batch& batch) {
  // With train.accumulate the scoring forward runs in micro-batches too (memory), each as the
  // whole batch would have seen it (no gradient, BatchNorm frozen). Each rank scores its share.
  const auto share = parallel_.share(batch.inputs.size(0));
  const int64_t rows = share.size;
  std::vector<torch::Tensor> losses, grad_norms, correct;
  for (const auto& [begin, size] : micro_batches(rows, batch.inputs.size(0))) {
    const auto outputs = forward_no_grad(batch.inputs.narrow(0, share.begin + begin, size));
    if (size == 0) continue;  // an empty pass of synchronised BatchNorm
    c10::InferenceMode inference;
    const auto targets = batch.targets.narrow(0, share.begin + begin, size);
    losses.push_back(task_->loss(outputs, targets));
    grad_norms.push_back(task_->grad_sq_norm(outputs, targets));
    correct.push_back(task_->correct(outputs, targets));
  }
  if (rows == 0) {
    const Observation none = no_rows();
    return parallel_.gather(Scores{none.losses, none.grad_norms, none.correct}, batch.inputs.size(0));
  }
  Scores local;
  {
    c10::InferenceMode inference;
    local = Scores{torch::cat(losses), torch::cat(grad_norms), torch::cat(correct)};
  }
  return parallel_.gather(local, batch.inputs.size(0));
}

namespace {
// One Observation of the micro-batches' rows, in order.
Observation concatenate(const std::vector<Observation>& parts) {
  if (parts.size() == 1) return parts[0];
  Observation all;
  const auto cat = [&](torch::Tensor Observation::*field) {
    std::vector<torch::Tensor> pieces;
    for (const auto& part : parts) pieces.push_back(part.*field);
    return torch::cat(pieces);
  };
  all.losses = cat(&Observation::losses);
  all.grad_norms = cat(&Observation::grad_norms);
  all.correct = cat(&Observation::correct);
  all.confidence = cat(&Observation::confidence);
  return all;
}
}  // namespace

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
  std::vector<Observation> measured;
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
  Observation all = measured.empty() ? no_rows() : concatenate(measured);
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
  if (scaler_) scaler_->scale(loss).backward();  // fp16: scaled, unscaled in finish_step
  else loss.backward();
}

void Trainer::finish_step() {
  // fp16: the gradients are unscaled first, and a step whose gradients overflowed is skipped (one
  // host read).
  if (scaler_ && !scaler_->unscale(model_->parameters())) {
    scaler_->update();
    return;
  }
  if (config_.train.clip_grad_norm) clip_grad_norm(model_->parameters(), *config_.train.clip_grad_norm);
  optimizer_->step();
  if (scaler_) scaler_->update();
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
