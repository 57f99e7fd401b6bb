// A task turns model outputs and targets into per-sample losses, the per-sample quantities the
// policies read (the squared norm of dloss/doutput, "correct", a confidence) and evaluation
// metrics. Policies and the trainer only ever call this interface, so every policy runs on every
// task and nothing outside tasks/ branches on which task it is (DESIGN.md, Tasks).
#pragma once

#include <torch/torch.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "esrun/config/run_config.h"
#include "esrun/core/registry.h"
#include "esrun/metrics/records.h"

namespace esrun {

// The metrics `task` reports: classification acc, mcc, acc5 (more than 5 classes), f1 (two
// classes); regression rmse, mae, mse, r2, pearson, spearman, acc; causal_lm perplexity, loss,
// acc. classes = 0: whichever the class count allows (what the config can check before the data
// is loaded).
std::vector<std::string> task_metrics(const std::string& task, int64_t classes = 0);

// A metric of an evaluation by name ("acc", "f1", "rmse", ...); nullopt when the task has none.
std::optional<double> metric_value(const Evaluation& evaluation, const std::string& metric);
// "73.10%" (acc, acc5, f1), "0.567" (mcc, pearson, spearman, r2), "684.2" (errors).
std::string format_metric(const std::string& metric, double value);

// Metrics on host tensors (double [N]), as GLUE reports them (scikit-learn's and SciPy's
// definitions): F1 of the positive class 1, Matthews correlation of K classes (Gorodkin 2004;
// 0 when undefined), Pearson's r and Spearman's rho (average ranks for ties; nullopt when a
// variable is constant or not finite).
// What a task needs from the dataset, filled in by the trainer next to the user's TaskOptions.
struct TaskContext {
  int64_t num_classes = 0;   // classification
  double target_std = 1.0;   // regression: the training targets' std (1 when not standardised)
  std::string metric;        // the dataset's headline metric (GLUE's per task); empty = the task's default
  int64_t vocab_size = 0;    // text: the tokenizer's vocabulary (causal_lm's outputs per token)
};

class Task {
 public:
  virtual ~Task() = default;
  // Model outputs per sample: the number of classes, or 1 for a scalar regression target; per
  // token when per_token() (causal_lm: the vocabulary).
  virtual int64_t outputs() const = 0;
  // Outputs [N, L, outputs()] per token against targets [N, L] (causal_lm), instead of
  // [N, outputs()] against [N]. Every other method below reduces to one value per sample either way.
  virtual bool per_token() const { return false; }
  // Per-sample training loss (float [N]) of outputs [N, outputs()] against targets [N].
  virtual torch::Tensor loss(const torch::Tensor& outputs, const torch::Tensor& targets) const = 0;
  // ||dl_i/doutput_i||^2 for that loss, in closed form (Omission, AdaSelection's grad_norm).
  virtual torch::Tensor grad_sq_norm(const torch::Tensor& outputs, const torch::Tensor& targets) const = 0;
  // bool [N]: the prediction counts as correct (KA, Order's adaptive q, train_acc).
  virtual torch::Tensor correct(const torch::Tensor& outputs, const torch::Tensor& targets) const = 0;
  // float [N] in (0, 1]: how sure the prediction is (KA's confidence threshold).
  virtual torch::Tensor confidence(const torch::Tensor& outputs, const torch::Tensor& targets) const = 0;
  // Evaluation: per-sample rows (double [N, k], on the device) for each test batch, concatenated
  // over the test split and turned into metrics once, on the host. Rows rather than sums, because
  // rank metrics (Spearman) need every prediction.
  virtual torch::Tensor eval_rows(const torch::Tensor& outputs, const torch::Tensor& targets) const = 0;
  // Sets every metric of the task and `score` (the headline metric, higher is better).
  virtual Evaluation eval_result(const torch::Tensor& rows) const = 0;
  // For log lines: the metrics of an evaluation ("acc 73.10%", "rmse 684.2 mae 501.3 r2 0.871").
  virtual std::string describe(const Evaluation& evaluation) const = 0;
  // The headline metric (task.metric, else the dataset's, else the task's default): summary.json's
  // "metric" and final_test_<it>, test_score, checkpoint.best.
  const std::string& headline_metric() const { return metric_; }
  std::string format_headline(double value) const { return format_metric(metric_, value); }
  // Whether smaller values of the headline metric are better (errors, perplexity, the loss).
  bool lower_is_better() const;

 protected:
  // The headline metric is task.metric, else the dataset's, else `default_metric`; it must be one
  // of `known` (an error naming task.metric otherwise).
  Task(const std::string& default_metric, const std::vector<std::string>& known, const TaskOptions& options,
       const TaskContext& context);
  // score = the headline metric's value, negated for errors (mse, rmse, mae); it must be set.
  void set_score(Evaluation& evaluation) const;

 private:
  std::string metric_;
};


double f1_score(const torch::Tensor& predicted, const torch::Tensor& truth);
double matthews_correlation(const torch::Tensor& predicted, const torch::Tensor& truth, int64_t classes);
std::optional<double> pearson_correlation(const torch::Tensor& x, const torch::Tensor& y);
std::optional<double> spearman_correlation(const torch::Tensor& x, const torch::Tensor& y);

using TaskRegistry = Registry<std::unique_ptr<Task>, const TaskOptions&, const TaskContext&>;
TaskRegistry& tasks();

}  // namespace esrun
