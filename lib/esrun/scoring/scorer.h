// Per-sample scores for static pruning and RHO-LOSS (docs/scoring.md). `esrun score` trains one
// scoring model per part (scoring/score.h) and asks the method for the scores of that part's rows;
// the parts' scores are averaged into one scores file, the format static_prune and rho_loss read.
// Convention: a higher score marks a harder (more informative) sample; the greedy coreset methods
// (herding, k_center) score their pick order, so the highest scores are the first picks.
#pragma once

#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <memory>
#include <string>

#include "esrun/config/run_config.h"
#include "esrun/core/registry.h"
#include "esrun/core/scores_file.h"
#include "esrun/data/dataset.h"
#include "esrun/sampling/policy.h"

namespace esrun {

class Trainer;

// The rows one scoring model trains on and scores; undefined = every row of the training split.
struct ScoringPart {
  int64_t repeat = 0;  // the model's seed is the run seed + repeat
  torch::Tensor train_rows, scored_rows;
};

struct ScorerContext {
  std::string method;
  const RunConfig* config = nullptr;
  KeyWhere where = key_only;
  uint64_t seed = 0;  // the scoring model's (the run seed + its repeat)
};

// What a method needs of the run, checked before its scoring model trains.
struct ScorerNeeds {
  bool classification = true;  // softmax outputs over classes
  bool plain_inputs = true;    // un-augmented training rows (an in-memory training split)
  bool embedding = false;      // the model's penultimate-layer features
};

class Scorer {
 public:
  explicit Scorer(ScorerContext context) : context_(std::move(context)) {}
  virtual ~Scorer() = default;

  // The scoring models to train for a training split of n rows: score.repeats of them on every row
  // unless the method holds rows out (irreducible_loss, from the data seed).
  virtual std::vector<ScoringPart> parts(int64_t n) const;
  virtual ScorerNeeds needs() const { return {}; }
  // score.epoch when it is null: the epochs the scoring model trains before it scores.
  virtual int64_t default_epoch(int64_t train_epochs) const { return train_epochs; }
  // false: no model is trained, the scores need none (random).
  virtual bool trains() const { return true; }
  // true: the scores are counted during training, so a checkpoint cannot stand in for it (forgetting).
  virtual bool counts_training() const { return false; }
  // Before the scoring model trains (and before load()): the training split's size and device.
  virtual void start(int64_t /*train_size*/, torch::Device /*device*/) {}
  // Each training step's observation (the trained rows' forward).
  virtual void observe(const Observation& /*observation*/) {}
  // The scores (double [m]) of `rows` (int64 [m]) from the trained model; undefined when a stop
  // signal arrived meanwhile (esrun score then stops, and scores the part again when resumed).
  virtual torch::Tensor score(Trainer& trainer, const torch::Tensor& rows) = 0;
  // What observe() counted, for a scoring run resumed mid-way.
  virtual void save(torch::serialize::OutputArchive& /*archive*/) const {}
  virtual void load(torch::serialize::InputArchive& /*archive*/) {}

 protected:
  const ScorerContext& context() const { return context_; }
  const RunConfig& config() const { return *context_.config; }

 private:
  ScorerContext context_;
};

using ScorerRegistry = Registry<std::unique_ptr<Scorer>, const ScorerContext&>;
ScorerRegistry& scorers();

// Helpers of the methods, over the un-augmented training rows in eval mode and score.batch chunks.
struct RowOutputs {
  torch::Tensor outputs;     // float [m, K]: the model's logits
  torch::Tensor embeddings;  // float [m, D]: penultimate-layer features (when asked for)
  torch::Tensor targets;     // int64 [m]
};
// The model's logits, or (with `embeddings`) only its penultimate-layer features; undefined when a
// stop signal arrived.
RowOutputs forward_rows(Trainer& trainer, const torch::Tensor& rows, int64_t batch, bool embeddings);
// The softmax of the logits (forward_rows), undefined when a stop signal arrived.
torch::Tensor probabilities(Trainer& trainer, const torch::Tensor& rows, int64_t batch);
// Errors, naming the method and the keys, unless the run gives what `needs` asks for.
void check_needs(Trainer& trainer, const ScorerNeeds& needs, const ScorerContext& context);
// Greedy picks within each class (herding, k_center): `pick(members' embeddings)` orders a class's
// rows; a row's score is 1 - (its place in its class's order) / (the class's size), so keeping the
// highest fraction keeps each class's first picks.
// The greedy orders of the rows of embeddings x [m, D] (herding.cpp, k_center.cpp).
// Both return an undefined tensor when a stop signal arrives midway.
torch::Tensor herding_order(const torch::Tensor& x);
torch::Tensor k_center_order(const torch::Tensor& x, int64_t first);
// An undefined order from `pick` (a stop signal) makes the result undefined.
torch::Tensor per_class_pick_order(const RowOutputs& rows, const std::function<torch::Tensor(const torch::Tensor&)>& pick);

}  // namespace esrun
