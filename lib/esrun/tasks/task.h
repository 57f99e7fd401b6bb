// A task turns model outputs and targets into per-sample losses, the per-sample quantities the
// policies read (the squared norm of dloss/doutput, "correct", a confidence) and evaluation
// metrics. Policies and the trainer only ever call this interface, so every policy runs on every
// task and nothing outside tasks/ branches on which task it is (DESIGN.md, Tasks).
#pragma once

#include <torch/torch.h>

#include <memory>
#include <optional>
#include <string>

#include "esrun/config/run_config.h"
#include "esrun/core/registry.h"
#include "esrun/metrics/records.h"

namespace esrun {

class Task {
 public:
  virtual ~Task() = default;
  // Model outputs per sample: the number of classes, or 1 for a scalar regression target.
  virtual int64_t outputs() const = 0;
  // Per-sample training loss (float [N]) of outputs [N, outputs()] against targets [N].
  virtual torch::Tensor loss(const torch::Tensor& outputs, const torch::Tensor& targets) const = 0;
  // ||dl_i/doutput_i||^2 for that loss, in closed form (Omission, AdaSelection's grad_norm).
  virtual torch::Tensor grad_sq_norm(const torch::Tensor& outputs, const torch::Tensor& targets) const = 0;
  // bool [N]: the prediction counts as correct (KA, Order's adaptive q, train_acc).
  virtual torch::Tensor correct(const torch::Tensor& outputs, const torch::Tensor& targets) const = 0;
  // float [N] in (0, 1]: how sure the prediction is (KA's confidence threshold).
  virtual torch::Tensor confidence(const torch::Tensor& outputs, const torch::Tensor& targets) const = 0;
  // Evaluation: per-batch sums (double, on the device) added over the test split, then turned
  // into metrics once, on the host, with the number of test samples.
  virtual torch::Tensor eval_sums(const torch::Tensor& outputs, const torch::Tensor& targets) const = 0;
  virtual Evaluation eval_result(const torch::Tensor& sums, int64_t count) const = 0;
  // For log lines: the metrics of an evaluation ("acc 73.10%", "rmse 684.2 mae 501.3 r2 0.871"), and
  // the one summary.json metric that heads the final line with its formatting.
  virtual std::string describe(const Evaluation& evaluation) const = 0;
  virtual std::string headline_metric() const = 0;  // "acc" | "rmse": summary.json's final_test_<it>
  virtual std::string format_headline(double value) const = 0;
};

// What a task needs from the dataset, filled in by the trainer next to the user's TaskOptions.
struct TaskContext {
  int64_t num_classes = 0;   // classification
  double target_std = 1.0;   // regression: the training targets' std (1 when not standardised)
};

using TaskRegistry = Registry<std::unique_ptr<Task>, const TaskOptions&, const TaskContext&>;
TaskRegistry& tasks();

}  // namespace esrun
