// The epoch loop of DESIGN.md: plan, shuffle, meta-batches, optional scoring forward, selection,
// weighted step, observation, evaluation. It knows no policy by name.
#pragma once

#include <torch/torch.h>

#include <functional>
#include <memory>

#include "esrun/config/run_config.h"
#include "esrun/core/timer.h"
#include "esrun/data/dataset.h"
#include "esrun/data/transforms.h"
#include "esrun/metrics/progress.h"
#include "esrun/metrics/records.h"
#include "esrun/models/model.h"
#include "esrun/optim/schedule.h"
#include "esrun/sampling/policy.h"
#include "esrun/tasks/task.h"
#include "esrun/train/budget.h"
#include "esrun/train/data_parallel.h"
#include "esrun/train/loss.h"
#include "esrun/train/open_epoch.h"

namespace esrun {

// What fit() calls back. Every member may be empty.
struct FitHooks {
  std::function<bool(const EpochRecord&)> on_epoch;  // after each epoch; false stops after it
  std::function<void(const StepProgress&)> on_step;  // after each meta-batch step
  std::function<bool()> stop_requested;              // checked after each step: true leaves the epoch open
  std::function<void(const EvaluationPoint&)> on_evaluation;  // after every evaluation, within epochs too
};

class Trainer {
 public:
  // With a process group the trainer is one replica of a data-parallel run (data_parallel.h);
  // every rank constructs it alike, and rank 0's initial weights are broadcast.
  // `make_policy`, when given, makes the policy instead of sampler.name (esrun score's).
  Trainer(const RunConfig& config, Dataset data, torch::Device device, std::shared_ptr<ProcessGroup> group = nullptr,
          const PolicyFactory& make_policy = {});
  ~Trainer();

  // Trains from epoch first_epoch until the budget (train.budget) is spent. Returns false when it
  // stopped early: either on_epoch returned false before the budget's last epoch, or
  // stop_requested() did mid-epoch, in which case the epoch stays open (open_epoch()) and save()
  // records it, so that a resumed run continues from the next step.
  bool fit(int64_t first_epoch, const FitHooks& hooks);

  // Everything a resumed run needs to continue bit for bit: model, optimizer, policy, the RNG
  // streams, the running totals (the LR schedule is a function of progress) and, when an epoch was
  // interrupted, its shuffled plan, next step and partial sums. In a multi-process run every rank
  // calls it (it gathers each rank's dropout stream); rank 0 writes the archive.
  void save(torch::serialize::OutputArchive& archive);
  void load(torch::serialize::InputArchive& archive);

  // Trains one epoch (or the rest of the open one); nullopt when stop_requested() interrupted it.
  std::optional<EpochRecord> train_epoch(int64_t epoch, const FitHooks& hooks = {});
  // The interrupted epoch, if any.
  std::optional<int64_t> open_epoch() const;
  Evaluation evaluate();

  // The pieces of a step, also timed one by one by `esrun bench`.
  // Gather (or decode) + augment; the augmentation is drawn from `seed` alone.
  Batch make_batch(const torch::Tensor& indices, uint64_t seed);
  Scores score(const Batch& batch);                // no gradient, BatchNorm statistics kept
  // Training rows as the model sees them at test time: normalised, not augmented, on the device
  // (in-memory splits; esrun score measures them).
  torch::Tensor plain_inputs(const torch::Tensor& indices) const;
  struct StepOutput {
    SampleColumns rows;    // per-sample losses, logit-gradient norms, "correct", confidence of the forward
    torch::Tensor loss;    // the reduced loss (undefined when a non-finite step was skipped)
    int64_t passes = 1;    // forward + backward passes (micro-batches with train.accumulate)
  };
  // Forward + backward + optimizer step at `lr` (and `momentum`, when the schedule sets it) with
  // loss = mean(w_i * l_i) (plain mean when `weights` is undefined). With train.accumulate the rows
  // pass in micro-batches whose gradients add up to that loss's before the one step. In a
  // multi-process run these are this rank's share of `total_rows` rows (-1: the rows given): the
  // mean is over all of them, the gradients are summed over the ranks before the step, and the
  // returned loss is the whole step's.
  StepOutput train_step(const torch::Tensor& inputs, const torch::Tensor& targets, const torch::Tensor& weights,
                        double lr, std::optional<double> momentum = std::nullopt, int64_t total_rows = -1);

  // The epochs the run trains: as the policy decides (reduced_epochs trains fewer) under an epochs
  // budget; the count the budget is now expected to last under the others.
  int64_t epochs() const { return budget_.by_epochs() ? epochs_ : expected_epochs_; }
  const Budget& budget() const { return budget_; }
  Spent spent() const { return totals_.spent; }  // by the finished epochs
  const Work& work() const { return totals_.work; }  // every step and forward so far
  Model& model() { return *model_; }
  SelectionPolicy& policy() { return *policy_; }
  const Task& task() const { return *task_; }
  const Dataset& data() const { return data_; }
  DataParallel& replicas() { return parallel_; }
  torch::Device data_device() const { return data_device_; }  // where the training rows are gathered

 private:
  // Construction (trainer.cpp).
  void place_data();
  void build_components(const PolicyFactory& make_policy);
  // The epoch (epoch.cpp).
  std::unique_ptr<OpenEpoch> begin_epoch(int64_t epoch, torch::Tensor order, torch::Tensor order_weights);
  // Under a steps, samples or seconds budget: the epochs it is expected to last, told to the policy.
  void expect_epochs();
  // The budget spent so far: the finished epochs' and the open one's (`epoch_seconds` in it), the
  // seconds agreed over the ranks (the largest).
  Spent spent_now(const OpenEpoch& open, double epoch_seconds);
  // Its steps and samples alone (no clock, no collective).
  Spent spent_counts(const OpenEpoch& open) const;
  // The LR schedule's progress in epochs at a step of the open epoch, given the budget spent.
  double schedule_progress(const OpenEpoch& open, int64_t step, const Spent& now) const;
  // An evaluation within the epoch (eval.every_steps): its time is not train time.
  void evaluate_within(OpenEpoch& open, PhaseClock& clock, const FitHooks& hooks, double epoch_seconds);
  // One meta-batch: scoring forward, selection, the step(s) on the selected rows at `progress`.
  void run_step(OpenEpoch& open, PhaseClock& clock, double progress);
  EpochRecord finish_epoch(OpenEpoch& open, PhaseClock& clock, double progress);
  void refresh(int64_t epoch, OpenEpoch& open, PhaseClock& clock);
  void check_finite(const OpenEpoch& open) const;
  // One step on these rows, its observation handed to the policy and added to the epoch's sums.
  void train_rows(const torch::Tensor& indices, const torch::Tensor& inputs, const torch::Tensor& targets,
                  const torch::Tensor& weights, double progress, OpenEpoch& open, PhaseClock& clock);
  // Debug mode distributed.check_sync: the ranks compare a checksum of the policy state and model.
  void check_replicas_agree(int64_t epoch);
  // The step (step.cpp).
  torch::Tensor forward(const torch::Tensor& inputs);  // in the configured precision, outputs in fp32
  torch::Tensor forward_no_grad(const torch::Tensor& inputs);
  void backward(const torch::Tensor& loss);  // scaled by the fp16 loss scale when there is one
  void finish_step();  // unscale (fp16), clip, optimizer step
  // The per-sample quantities policies read, of one forward's outputs (no gradient); computed per
  // micro-batch, so per-token outputs [n, L, V] never exist for a whole meta-batch at once. The
  // confidence only when asked for: policies read it from observations, never from scores.
  SampleColumns measure(const torch::Tensor& outputs, const torch::Tensor& targets, const torch::Tensor& losses,
                        bool confidence = true) const;
  // Every rank's share of `rows` rows of per-sample columns, in order.
  SampleColumns gather(const SampleColumns& local, int64_t rows);
  // The micro-batches (begin, size) of this rank's `local` rows of `total`: passes of at most
  // train.accumulate rows (one pass without it). With synchronised BatchNorm every rank runs as many
  // passes as the largest share needs, trailing ones possibly empty, because each pass's
  // statistics are a collective all ranks take part in.
  std::vector<std::pair<int64_t, int64_t>> micro_batches(int64_t local, int64_t total) const;
  // The batches (batches.cpp).
  uint64_t batch_seed(int64_t epoch, int64_t step) const;  // the augmentation seed of a step's batch
  // Tells a file loader the batches to decode ahead: `rows(i)` for i in [first, end), seeded by step
  // `seed_step0 + i - first`.
  void announce(int64_t epoch, int64_t first, int64_t end, int64_t seed_step0,
                const std::function<torch::Tensor(int64_t)>& rows);

  // Each replica's progress through the run, kept in checkpoints.
  struct Totals {
    Spent spent;       // by the finished epochs
    Spent last_epoch;  // what the last finished epoch consumed (the rate of expected_epochs)
    Work work;         // updated at every step, so a mid-epoch checkpoint holds the open epoch's too
  };
  // The random streams, seeded from the run seed and kept in checkpoints.
  struct Streams {
    at::Generator shuffle;
    // The device's default generator, which dropout draws from (training and scoring forwards).
    at::Generator dropout;
    uint64_t augment_seed = 0;
  };
  // How forwards and steps run: autocast type (none: fp32), the fp16 loss scaler, timing.
  struct Numerics {
    std::optional<at::ScalarType> autocast;
    std::unique_ptr<GradScaler> scaler;
    bool per_phase = true;
  };

  const RunConfig config_;
  Dataset data_;
  torch::Device device_;
  torch::Device data_device_ = torch::kCPU;  // where the training rows are gathered
  DataParallel parallel_;
  int64_t synced_norms_ = 0;  // BatchNorm layers synchronised over the ranks (distributed.sync_bn)
  std::unique_ptr<Task> task_;
  std::shared_ptr<Model> model_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  std::vector<double> lr_scales_;  // per parameter group (Model::lr_scale)
  std::unique_ptr<Schedule> schedule_;
  std::unique_ptr<SelectionPolicy> policy_;
  int64_t epochs_ = 0;           // the policy's epochs of train.epochs: the LR schedule's span
  Budget budget_{BudgetOptions{}, 1, 1};
  int64_t expected_epochs_ = 0;  // steps, samples and seconds budgets (expect_epochs)
  TrainAugment augment_;
  Normalizer normalize_;  // test batches, and training batches the file loader augmented
  std::unique_ptr<ImageFileLoader> train_loader_, test_loader_;  // file-backed splits only
  Streams streams_;
  Numerics numerics_;
  Totals totals_;
  std::unique_ptr<OpenEpoch> open_;  // the epoch in progress (kept when interrupted)
};

}  // namespace esrun
