// The interface every data-selection method implements (DESIGN.md). The trainer owns the loop:
//   plan = plan_epoch(e)                 set-level selection: which samples this epoch, loss weights
//   for each meta-batch of the shuffled plan:
//     losses = scoring forward           only if needs_scores(e)
//     sel = select(batch, losses)        batch-level selection: rows to train on, loss weights
//     train on sel with loss = mean(w_i * l_i); then observe(...) with what the step computed
// A method changes nothing in the trainer: it overrides the hooks it needs.
#pragma once

#include <torch/torch.h>

#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "esrun/config/run_config.h"
#include "esrun/core/registry.h"
#include "esrun/core/scores_file.h"
#include "esrun/sampling/sample_columns.h"

namespace esrun {

struct Batch {
  torch::Tensor indices;  // int64 [B]: positions in the training split
  torch::Tensor inputs;   // float [B, C, H, W], augmented
  torch::Tensor targets;  // int64 [B]
};

// What the scoring forward computed for a meta-batch (no gradient, BatchNorm statistics kept).
using Scores = SampleColumns;

// Rows of the meta-batch to train on and their loss weights. An undefined `positions` means every
// row; an undefined `weights` means weight 1 for each. A policy that trains on batches of its own
// making (a queue across meta-batches) sets `queued`: the trainer then takes one step on each of
// those batches (possibly none) instead of on rows of this meta-batch.
struct Selection {
  torch::Tensor positions;
  torch::Tensor weights;
  std::optional<std::vector<Batch>> queued;
};

// The samples of one epoch (before the trainer's shuffle) and their loss weights (undefined: 1).
struct EpochPlan {
  torch::Tensor indices;
  torch::Tensor weights;
};

// What one training step (or a forward-only refresh pass) computed, handed back to the policy
// (all detached, on the device): the columns of the trained rows and which rows they are.
struct Observation : SampleColumns {
  int64_t epoch = 0;
  torch::Tensor indices = {};  // int64 [b]: positions in the training split
  bool trained = true;       // false for the forward-only pass of refresh_indices()
};

struct PolicyContext {
  int64_t train_size = 0;   // n
  // E: the epochs the run trains. Under a steps, samples or seconds budget the trainer updates it at
  // each epoch's start to the count the budget is then expected to last (expect_epochs), so epoch
  // schedules (annealing, pruning windows, InfoBatch's delta) end with the budget.
  int64_t epochs = 0;
  int64_t num_classes = 0;
  torch::Device device = torch::kCPU;
  uint64_t seed = 0;        // the policy stream's seed
  // The scores file of sampler.scores, read and checked against the training split where the run is
  // wired, for the policies that read one (static_prune, rho_loss); null for the others.
  std::shared_ptr<const ScoresFile> scores;
};

// The context's scores file, which the run wires for every policy that reads sampler.scores.
const ScoresFile& scores_of(const PolicyContext& context, const std::string& sampler);

class SelectionPolicy;
// Makes the run's policy instead of sampler.name's (esrun score trains its scoring model so).
using PolicyFactory = std::function<std::unique_ptr<SelectionPolicy>(const PolicyContext&)>;

class SelectionPolicy {
 public:
  explicit SelectionPolicy(const PolicyContext& context);
  virtual ~SelectionPolicy() = default;

  virtual EpochPlan plan_epoch(int64_t epoch);
  virtual bool needs_scores(int64_t /*epoch*/) const { return false; }
  virtual Selection select(const Batch& /*batch*/, const Scores& /*scores*/) { return {}; }
  virtual void observe(const Observation& /*observation*/) {}
  // Batches still to train on when the epoch's meta-batches are done (a queue's remainder).
  virtual std::vector<Batch> flush(int64_t /*epoch*/) { return {}; }
  // Samples to pass forward (no gradient) after the epoch; their results come back through
  // observe() with `trained` false.
  virtual torch::Tensor refresh_indices(int64_t /*epoch*/) { return {}; }
  // Multiplies the schedule's learning rate during `epoch`.
  virtual double lr_scale(int64_t /*epoch*/) const { return 1.0; }
  // How many epochs to train when train.epochs is `configured`; the LR schedule spans them.
  virtual int64_t epochs(int64_t configured) const { return configured; }
  // The run's epoch count as its budget now expects it (context().epochs); the trainer calls it
  // before an epoch's plan, and only under a steps, samples or seconds budget.
  void expect_epochs(int64_t epochs) { context_.epochs = epochs; }
  // Seconds spent before training on the policy's behalf (the scoring run behind a scores file),
  // reported as the run's extra cost.
  virtual double extra_cost_s() const { return 0.0; }
  // The policy's state in a checkpoint: its random stream, then what save_state() adds.
  void save(torch::serialize::OutputArchive& archive) const;
  void load(torch::serialize::InputArchive& archive);

 protected:
  const PolicyContext& context() const { return context_; }
  // The policy's own random stream (a CPU generator seeded from context.seed), checkpointed here.
  at::Generator& generator() { return generator_; }
  // Anything else the policy must carry across a resume (queues, EMAs, counters).
  virtual void save_state(torch::serialize::OutputArchive& /*archive*/) const {}
  virtual void load_state(torch::serialize::InputArchive& /*archive*/) {}

 private:
  PolicyContext context_;
  at::Generator generator_;
};

using SamplerRegistry = Registry<std::unique_ptr<SelectionPolicy>, const SamplerOptions&, const PolicyContext&>;
SamplerRegistry& samplers();

}  // namespace esrun
