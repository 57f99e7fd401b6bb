// The trainer's construction (data placement, model, optimizer, schedule, policy), fit and the
// checkpoint state. The epoch is in epoch.cpp, the step in step.cpp, the batches in batches.cpp.
#include "esrun/train/trainer.h"

#include <spdlog/spdlog.h>

#include "esrun/config/schema.h"
#include "esrun/core/device.h"
#include "esrun/core/error.h"
#include "esrun/core/rng.h"
#include "esrun/core/torch_compat.h"
#include "esrun/models/batch_norm.h"
#include "esrun/optim/optimizer.h"

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

// The scores file of sampler.scores, checked against the training split, for a sampler that reads one.
std::shared_ptr<const ScoresFile> sampler_scores(const RunConfig& config, const Dataset& data) {
  if (!config.sampler.scores || !reads(config.sampler.name, "sampler.scores")) return nullptr;
  return std::make_shared<const ScoresFile>(
      read_scores(*config.sampler.scores, config.resolved.where("sampler.scores"), identify(data)));
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
      streams_{make_generator(config.seed, "shuffle"), at::globalContext().defaultGenerator(device),
               derive_seed(config.seed, "augment")} {
  place_data();
  numerics_.autocast = autocast_type(config_.precision);
  if (config_.precision == Precision::Fp16) numerics_.scaler = std::make_unique<GradScaler>(device_);
  // auto = phases: on CUDA they come from events, so they cost no host synchronisation.
  numerics_.per_phase = config_.timing != "epoch";
  if (device_.is_cuda()) compat::set_cudnn_benchmark(config_.cudnn_benchmark);
  build_components(make_policy);
}

// The training split on the device when it is in memory (and data.on_device allows), file loaders
// for splits decoded from files, the test split on the device.
void Trainer::place_data() {
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
  data_.test = to_device(data_.test, device_);
  data_.noisy_mask = data_.noisy_mask.to(device_);
}

// Task, model (the same initial weights on every rank), optimizer, policy and LR schedule.
void Trainer::build_components(const PolicyFactory& make_policy) {
  task_ = tasks().create(data_.task, config_.resolved.where("task.name"), config_.task,
                         TaskContext{data_.num_classes, data_.target_std, data_.metric, data_.vocab_size});
  model_ = build_model(config_, data_, *task_, device_);
  {
    // Each rank draws its own dropout masks (rank 0 those of a single process).
    const uint64_t seed = derive_seed(config_.seed, "dropout");
    std::lock_guard<std::mutex> lock(streams_.dropout.mutex());
    streams_.dropout.set_current_seed(parallel_.rank() == 0 ? seed : derive_seed(seed, static_cast<uint64_t>(parallel_.rank())));
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
  PolicyContext context{data_.train.size(), config_.train.epochs, data_.num_classes, device_,
                        derive_seed(config_.seed, "policy"), nullptr};
  if (make_policy) {
    policy_ = make_policy(context);
  } else {
    context.scores = sampler_scores(config_, data_);
    policy_ = samplers().create(config_.sampler.name, config_.resolved.where("sampler.name"), config_.sampler, context);
  }
  epochs_ = policy_->epochs(config_.train.epochs);
  budget_ = Budget(config_.train.budget, config_.train.epochs, epochs_);
  expected_epochs_ = epochs_;
  schedule_ = schedules().create(config_.schedule.name, config_.resolved.where("schedule.name"), config_.schedule,
                                 config_.optimizer.lr, static_cast<double>(epochs_));
}

Trainer::~Trainer() = default;

bool Trainer::fit(int64_t first_epoch, const FitHooks& hooks) {
  totals_.spent.epochs = first_epoch;
  for (int64_t epoch = first_epoch; open_ || !budget_.exhausted(totals_.spent); ++epoch) {
    const auto record = train_epoch(epoch, hooks);
    if (!record) return false;
    if (hooks.on_epoch && !hooks.on_epoch(*record)) return record->last;
  }
  return true;
}

std::optional<int64_t> Trainer::open_epoch() const {
  return open_ ? std::optional<int64_t>(open_->epoch) : std::nullopt;
}

void Trainer::save(torch::serialize::OutputArchive& archive) {
  torch::serialize::OutputArchive model, optimizer, policy;
  model_->save(model);
  optimizer_->save(optimizer);
  policy_->save(policy);
  archive.write("format", torch::tensor(kCheckpointFormat, torch::kLong));
  archive.write("model", model);
  archive.write("optimizer", optimizer);
  archive.write("policy", policy);
  save_generator(archive, "shuffle_generator", streams_.shuffle);
  // Under the device type's name: a run resumed on another device type cannot take the state.
  if (parallel_.distributed()) {
    // Every rank's dropout stream, one row each.
    torch::Tensor state;
    {
      std::lock_guard<std::mutex> lock(streams_.dropout.mutex());
      state = streams_.dropout.get_state();
    }
    archive.write(dropout_generator_key(device_) + "_ranks", parallel_.gather(state.unsqueeze(0), parallel_.world_size()));
  } else {
    save_generator(archive, dropout_generator_key(device_), streams_.dropout);
  }
  save_spent(archive, "spent", totals_.spent);
  save_spent(archive, "last_epoch_spent", totals_.last_epoch);
  archive.write("expected_epochs", torch::tensor(expected_epochs_, torch::kLong));
  save_work(archive, totals_.work);
  if (numerics_.scaler) numerics_.scaler->save(archive);
  if (!open_) return;
  torch::serialize::OutputArchive open;
  open_->save(open);
  archive.write("open_epoch", open);
}

void Trainer::load(torch::serialize::InputArchive& archive) {
  torch::Tensor format = torch::tensor(int64_t{1});
  archive.try_read("format", format);
  ESRUN_CHECK(format.item<int64_t>() <= kCheckpointFormat, "it was written by a newer esrun (checkpoint format ",
              format.item<int64_t>(), "; this esrun reads formats 1 to ", kCheckpointFormat, ")");
  torch::serialize::InputArchive model, optimizer, policy;
  archive.read("model", model);
  archive.read("optimizer", optimizer);
  archive.read("policy", policy);
  model_->load(model);
  optimizer_->load(optimizer);
  policy_->load(policy);
  load_generator(archive, "shuffle_generator", streams_.shuffle);
  // A checkpoint from another device type has no dropout state of this one's: dropout then goes on
  // from this run's seeded stream. A multi-process run's checkpoint holds every rank's (its world
  // size is the resumed run's).
  torch::Tensor dropout_state;
  if (archive.try_read(dropout_generator_key(device_) + "_ranks", dropout_state)) dropout_state = dropout_state[parallel_.rank()].clone();
  if (dropout_state.defined() || archive.try_read(dropout_generator_key(device_), dropout_state)) {
    std::lock_guard<std::mutex> lock(streams_.dropout.mutex());
    streams_.dropout.set_state(dropout_state);
  }
  totals_ = Totals{};
  if (format.item<int64_t>() >= 3) {
    totals_.spent = read_spent(archive, "spent");
    totals_.last_epoch = read_spent(archive, "last_epoch_spent");
    torch::Tensor expected;
    archive.read("expected_epochs", expected);
    expected_epochs_ = expected.item<int64_t>();
    totals_.work = read_work(archive);
  } else {  // [samples back-propagated, train seconds]; format 2 ran epochs budgets only
    torch::Tensor totals;
    archive.read("totals", totals);
    totals_.spent.samples = static_cast<int64_t>(totals[0].item<double>());
    totals_.spent.seconds = totals[1].item<double>();
    totals_.work.from_start = false;
  }
  if (!budget_.by_epochs()) policy_->expect_epochs(expected_epochs_);
  if (numerics_.scaler) numerics_.scaler->load(archive);
  open_.reset();
  torch::serialize::InputArchive open;
  if (!archive.try_read("open_epoch", open)) return;
  const SavedEpochPlan plan = read_open_epoch_plan(open, format.item<int64_t>());
  open_ = begin_epoch(plan.epoch, plan.order.to(data_device_),
                      plan.order_weights.defined() ? plan.order_weights.to(data_device_) : torch::Tensor());
  read_open_epoch_progress(open, format.item<int64_t>(), *open_);
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

}  // namespace esrun
