// regression: a scalar target, standardised on the training split (z = (y - mean) / std) so that
// the loss, the learning rate and the policies' scores do not depend on the target's units. With
// e = prediction - z the per-sample loss is mse e^2, l1 |e| or huber (0.5 e^2 for |e| <= delta,
// else delta (|e| - delta / 2)), and ||dl/de||^2 is 4 e^2, 1 (0 at e = 0) or min(|e|, delta)^2.
// "Correct" is |e| <= tolerance (in standard deviations of the training targets); the confidence is
// exp(-|e| / tolerance), 1 for a perfect prediction and 1/e at the tolerance.
// Evaluation, in the target's original units: MSE, RMSE, MAE and R^2 = 1 - SSE / SST over the test
// split (SST around the test targets' own mean, as sklearn's r2_score), Pearson's and Spearman's
// correlation of predictions and targets; loss is the task loss in standardised units; acc the
// fraction correct. The headline metric is task.metric, else the dataset's (GLUE's STS-B:
// pearson), else RMSE.
#include <spdlog/fmt/fmt.h>

#include "esrun/tasks/task.h"

namespace esrun {
namespace {

class Regression final : public Task {
 public:
  Regression(const TaskOptions& options, const TaskContext& context)
      : Task("rmse", task_metrics("regression"), options, context),
        options_(options),
        std_(context.target_std) {}

  int64_t outputs() const override { return 1; }

  torch::Tensor loss(const torch::Tensor& outputs, const torch::Tensor& targets) const override {
    const auto e = error(outputs, targets);
    if (options_.loss == "l1") return e.abs();
    if (options_.loss == "huber") {
      const auto a = e.abs();
      return torch::where(a <= options_.huber_delta, 0.5 * e * e, options_.huber_delta * (a - 0.5 * options_.huber_delta));
    }
    return e * e;
  }

  torch::Tensor grad_sq_norm(const torch::Tensor& outputs, const torch::Tensor& targets) const override {
    const auto e = error(outputs, targets);
    if (options_.loss == "l1") return e.ne(0).to(e.scalar_type());
    if (options_.loss == "huber") return e.abs().clamp_max(options_.huber_delta).pow(2);
    return 4.0 * e * e;
  }

  torch::Tensor correct(const torch::Tensor& outputs, const torch::Tensor& targets) const override {
    return error(outputs, targets).abs() <= options_.tolerance;
  }

  torch::Tensor confidence(const torch::Tensor& outputs, const torch::Tensor& targets) const override {
    return torch::exp(-error(outputs, targets).abs() / options_.tolerance);
  }

  // Rows: loss, error, target (standardised units), correct.
  torch::Tensor eval_rows(const torch::Tensor& outputs, const torch::Tensor& targets) const override {
    return torch::stack({loss(outputs, targets), error(outputs, targets), targets.to(outputs.scalar_type()),
                         correct(outputs, targets).to(outputs.scalar_type())}, 1).to(torch::kDouble);
  }

  std::string describe(const Evaluation& e) const override {
    const auto optional = [](const std::optional<double>& v) { return v ? fmt::format("{:.3f}", *v) : "n/a"; };
    std::string text = fmt::format("rmse {:.4g} mae {:.4g} r2 {}", e.rmse.value_or(0.0), e.mae.value_or(0.0), optional(e.r2));
    if (headline_metric() == "pearson" || headline_metric() == "spearman")
      text += fmt::format(" pearson {} spearman {}", optional(e.pearson), optional(e.spearman));
    return text;
  }

  Evaluation eval_result(const torch::Tensor& rows) const override {
    const auto r = rows.cpu();
    const double n = static_cast<double>(std::max<int64_t>(1, r.size(0)));
    const auto e = r.select(1, 1), z = r.select(1, 2);
    const double sse = e.pow(2).sum().item<double>();
    const double sst = (z - z.mean()).pow(2).sum().item<double>();  // in standardised units, as sse
    Evaluation result;
    result.loss = r.select(1, 0).sum().item<double>() / n;
    result.acc = r.select(1, 3).sum().item<double>() / n;
    result.mse = sse / n * std_ * std_;
    result.rmse = std::sqrt(*result.mse);
    result.mae = e.abs().sum().item<double>() / n * std_;
    if (sst > 0) result.r2 = 1.0 - sse / sst;  // undefined (null) when every test target is the same
    // Correlations are unchanged by the standardisation: prediction z + e against z.
    result.pearson = pearson_correlation(z + e, z);
    result.spearman = spearman_correlation(z + e, z);
    set_score(result);
    return result;
  }

 private:
  static torch::Tensor error(const torch::Tensor& outputs, const torch::Tensor& targets) {
    return outputs.view({-1}) - targets.to(outputs.scalar_type());
  }

  TaskOptions options_;
  double std_;  // of the training targets: standardised errors times std_ are in original units
};

const bool registered = tasks().add(
    "regression", "a scalar target, standardised on the training split; MSE, L1 or Huber loss; MSE, RMSE, MAE, R^2, Pearson, Spearman",
    [](const TaskOptions& o, const TaskContext& c) -> std::unique_ptr<Task> {
      return std::make_unique<Regression>(o, c);
    },
    {.metrics = {"rmse", "mae", "mse", "r2", "pearson", "spearman", "acc"}, .reads = {"task.loss", "task.huber_delta",
        "task.tolerance", "task.standardize"}});

}  // namespace
}  // namespace esrun
