// regression: a scalar target, standardised on the training split (z = (y - mean) / std) so that
// the loss, the learning rate and the policies' scores do not depend on the target's units. With
// e = prediction - z the per-sample loss is mse e^2, l1 |e| or huber (0.5 e^2 for |e| <= delta,
// else delta (|e| - delta / 2)), and ||dl/de||^2 is 4 e^2, 1 (0 at e = 0) or min(|e|, delta)^2.
// "Correct" is |e| <= tolerance (in standard deviations of the training targets); the confidence is
// exp(-|e| / tolerance), 1 for a perfect prediction and 1/e at the tolerance.
// Evaluation, in the target's original units: MSE, RMSE, MAE and R^2 = 1 - SSE / SST over the test
// split (SST around the test targets' own mean, as sklearn's r2_score); loss is the task loss in
// standardised units; acc the fraction correct.
#include <spdlog/fmt/fmt.h>

#include "esrun/tasks/task.h"

namespace esrun {
namespace {

class Regression final : public Task {
 public:
  Regression(const TaskOptions& options, const TaskContext& context)
      : options_(options), std_(context.target_std) {}

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

  torch::Tensor eval_sums(const torch::Tensor& outputs, const torch::Tensor& targets) const override {
    const auto e = error(outputs, targets).to(torch::kDouble);
    const auto z = targets.to(torch::kDouble);
    return torch::stack({loss(outputs, targets).sum().to(torch::kDouble), e.pow(2).sum(), e.abs().sum(), z.sum(),
                         z.pow(2).sum(), correct(outputs, targets).sum().to(torch::kDouble)});
  }

  std::string describe(const Evaluation& e) const override {
    return fmt::format("rmse {:.4g} mae {:.4g} r2 {}", e.rmse.value_or(0.0), e.mae.value_or(0.0),
                       e.r2 ? fmt::format("{:.3f}", *e.r2) : "n/a");
  }
  std::string headline_metric() const override { return "rmse"; }
  std::string format_headline(double value) const override { return fmt::format("{:.4g}", value); }

  Evaluation eval_result(const torch::Tensor& sums, int64_t count) const override {
    const double n = static_cast<double>(std::max<int64_t>(1, count));
    const auto s = sums.cpu();
    const double sse = s[1].item<double>(), sum_z = s[3].item<double>(), sum_z2 = s[4].item<double>();
    const double sst = sum_z2 - sum_z * sum_z / n;  // in standardised units, as sse
    Evaluation result;
    result.loss = s[0].item<double>() / n;
    result.acc = s[5].item<double>() / n;
    result.mse = sse / n * std_ * std_;
    result.rmse = std::sqrt(*result.mse);
    result.mae = s[2].item<double>() / n * std_;
    if (sst > 0) result.r2 = 1.0 - sse / sst;  // undefined (null) when every test target is the same
    result.score = -*result.rmse;
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
    "regression", "a scalar target, standardised on the training split; MSE, L1 or Huber loss; MSE, RMSE, MAE, R^2",
    [](const TaskOptions& o, const TaskContext& c) -> std::unique_ptr<Task> {
      return std::make_unique<Regression>(o, c);
    });

}  // namespace
}  // namespace esrun
