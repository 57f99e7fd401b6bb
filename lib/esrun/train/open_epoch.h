// The epoch in progress: what a checkpoint taken between two of its steps must hold to continue it
// bit for bit, and how it is saved and read back.
#pragma once

#include <torch/torch.h>

#include <string>

#include "esrun/metrics/records.h"

namespace esrun {

// The trainer's checkpoint format, written under "format".
//   3  the budget spent ("spent", "last_epoch_spent", "expected_epochs" instead of "totals") and the
//      work ("work_steps", "work_forwards"); the
//      open epoch's optimizer_steps and eval_seconds (read as 0 from older formats).
//   2  the open epoch under one named key per field (OpenEpoch::fields).
//   1  no "format" key: the open epoch's counters, seconds and sums as positional vectors.
inline constexpr int64_t kCheckpointFormat = 3;

struct OpenEpoch {
  int64_t epoch = 0;
  torch::Tensor order, order_weights;  // the shuffled plan and its loss weights (undefined: 1)
  int64_t steps = 0, next_step = 0;
  bool scoring = false;
  double lr_scale = 1.0;
  EpochRecord record;                  // counters and phase times so far
  torch::Tensor loss, correct, noisy;  // sums on the device, read once per epoch
  torch::Tensor first_bad_step;        // -1, or the first step whose loss was not finite
  int64_t samples_backward = 0, skipped_steps = 0, images = 0, backward_passes = 0;
  int64_t optimizer_steps = 0;         // steps taken (a skipped non-finite one counts)
  double seconds_before = 0;           // spent in this epoch before an interruption
  double eval_seconds = 0;             // of it, in evaluations within the epoch (eval.every_steps)

  // An epoch of `steps` meta-batches over `order`, its sums zero, on `device`.
  OpenEpoch(int64_t epoch, torch::Tensor order, torch::Tensor order_weights, int64_t steps, torch::Device device);

  // What a checkpoint holds of the epoch's progress: every field that changes as it runs, each
  // once, under its checkpoint key (the plan, order and order_weights, is saved beside them).
  template <typename Self, typename Visit>
  static void fields(Self& o, Visit&& visit) {
    visit("next_step", o.next_step);
    visit("samples_backward", o.samples_backward);
    visit("skipped_steps", o.skipped_steps);
    visit("images", o.images);
    visit("samples_forward", o.record.samples_forward);
    visit("backward_passes", o.backward_passes);
    visit("seconds_before", o.seconds_before);
    visit("time_data", o.record.time.data);
    visit("time_score_forward", o.record.time.score_forward);
    visit("time_select", o.record.time.select);
    visit("time_train_step", o.record.time.train_step);
    visit("time_gather", o.record.time.gather);
    visit("time_reduce", o.record.time.reduce);
    visit("loss_sum", o.loss);
    visit("correct_sum", o.correct);
    visit("noisy_sum", o.noisy);
    visit("first_bad_step", o.first_bad_step);
    visit("optimizer_steps", o.optimizer_steps);
    visit("eval_seconds", o.eval_seconds);
  }
  // The fields a format-2 checkpoint lacks (they read as 0).
  static bool added_in_format_3(const std::string& key) { return key == "optimizer_steps" || key == "eval_seconds"; }

  void save(torch::serialize::OutputArchive& archive) const;
};

// The plan of a saved open epoch: the trainer sets the epoch up from it (begin_epoch), then
// read_open_epoch_progress fills in how far it had come.
struct SavedEpochPlan {
  int64_t epoch = 0;
  torch::Tensor order, order_weights;  // on the CPU; order_weights undefined when all are 1
};
SavedEpochPlan read_open_epoch_plan(torch::serialize::InputArchive& archive, int64_t format);
void read_open_epoch_progress(torch::serialize::InputArchive& archive, int64_t format, OpenEpoch& open);

}  // namespace esrun
