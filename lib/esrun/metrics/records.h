// Test metrics and per-epoch metrics as named fields (never positional vectors), serialised with nlohmann::json.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace esrun {

// Seconds per phase of one epoch. `select` covers all policy bookkeeping (plan_epoch, select,
// observe); `train_step` is forward + backward + optimizer step on the chosen samples, with the
// per-sample values the policy then observes (losses, logit-gradient norms, correct, confidence),
// computed per micro-batch.
struct PhaseTimes {
  double data = 0, score_forward = 0, select = 0, train_step = 0, eval = 0;
  // Multi-process runs: host seconds of training (scoring, steps, the refresh pass: parts of
  // score_forward, train_step and select) in the all-gathers of per-sample values and in the
  // gradient and BatchNorm all-reduces; evaluation's and checkpoints' are not counted. 0 alone.
  double gather = 0, reduce = 0;
  bool per_phase = true;           // false (`timing: epoch`): the four phases above are not measured
  double epoch_total = 0;          // everything in the epoch, evaluation included
  double train_total_so_far = 0;   // all epochs so far, evaluation excluded
};

// Test-split metrics. Every task's fields exist; those that do not apply stay empty and are
// written as null, so metrics.jsonl has one schema.
struct Evaluation {
  double loss = 0;             // the task's mean per-sample loss (no label smoothing); causal_lm: per token
  std::optional<double> acc;   // fraction correct, as the task defines it
  std::optional<double> acc5;  // classification with more than 5 classes
  std::optional<double> mse, rmse, mae, r2;  // regression, in the target's original units
  std::optional<double> f1;                  // two classes: F1 of class 1 (GLUE's MRPC, QQP)
  std::optional<double> mcc;                 // classification: Matthews correlation (GLUE's CoLA)
  std::optional<double> pearson, spearman;   // regression: of predictions and targets (GLUE's STS-B)
  std::optional<double> perplexity;          // causal_lm: exp(loss), the loss per predicted token
  // The task's headline metric (task.metric), higher is better (error metrics negated):
  // checkpoint.best and summary.json's best epoch.
  double score = 0;
};

struct EpochRecord {
  int64_t epoch = 0;
  double lr = 0;  // at the epoch's first step
  double train_loss = 0, train_acc = 0;  // over back-propagated samples, unweighted; acc = fraction correct
  bool evaluated = false;
  Evaluation test;                       // when evaluated
  int64_t samples_forward = 0;           // scoring forwards (no gradient)
  int64_t samples_backward = 0;
  int64_t samples_backward_total = 0;
  // Backward passes of the epoch: one per training step, or one per micro-batch of at most
  // train.accumulate rows (ES's saving is ceil(b / micro) against ceil(B / micro) passes a step).
  int64_t backward_passes = 0;
  int64_t optimizer_steps = 0, optimizer_steps_total = 0;
  int64_t epoch_dataset_size = 0;        // |plan| of this epoch
  std::optional<double> noisy_backward_fraction;  // only with label noise
  PhaseTimes time;
  bool last = false;                     // the run's budget ends with this epoch (not written)
};

nlohmann::json to_json(const EpochRecord& record);

// One evaluation on the quality-against-time curve (evaluations.jsonl): after an epoch, or within
// one (eval.every_steps), with the training done by then.
struct EvaluationPoint {
  int64_t epoch = 0;             // 0-based epoch it was taken in
  int64_t step = 0;              // meta-batch steps of that epoch done
  int64_t optimizer_steps = 0;   // of the run so far
  int64_t samples_backward = 0;  // of the run so far
  double train_seconds = 0;      // of the run so far, evaluation excluded
  Evaluation test;
};

nlohmann::json to_json(const EvaluationPoint& point);

// JSON lines (metrics.jsonl, evaluations.jsonl): one compact value and a newline each.
std::string json_lines(const std::vector<nlohmann::json>& values);
std::vector<nlohmann::json> parse_json_lines(const std::string& text);

}  // namespace esrun
