// classification: softmax cross entropy with label smoothing over K classes. "Correct" is
// argmax == target, the confidence the largest softmax probability, and ||dl/dz||^2 at the logits
// z is ||softmax(z) - t||^2 with t the smoothed target (1 - eps) onehot(y) + eps / K.
// Evaluation: loss (no smoothing), top-1 and, with more than 5 classes, top-5 accuracy.
#include <spdlog/fmt/fmt.h>

#include "esrun/tasks/task.h"

namespace esrun {
namespace {

namespace F = torch::nn::functional;

class Classification final : public Task {
 public:
  Classification(const TaskOptions& options, const TaskContext& context)
      : classes_(context.num_classes), smoothing_(options.label_smoothing) {}

  int64_t outputs() const override { return classes_; }

  torch::Tensor loss(const torch::Tensor& logits, const torch::Tensor& targets) const override {
    return cross_entropy(logits, targets, smoothing_);
  }

  torch::Tensor grad_sq_norm(const torch::Tensor& logits, const torch::Tensor& targets) const override {
    auto target = F::one_hot(targets, classes_).to(logits.scalar_type()) * (1.0 - smoothing_);
    target.add_(smoothing_ / static_cast<double>(classes_));
    return (torch::softmax(logits, 1) - target).pow(2).sum(1);
  }

  torch::Tensor correct(const torch::Tensor& logits, const torch::Tensor& targets) const override {
    return logits.argmax(1).eq(targets);
  }

  torch::Tensor confidence(const torch::Tensor& logits, const torch::Tensor& /*targets*/) const override {
    return std::get<0>(torch::softmax(logits, 1).max(1));
  }

  torch::Tensor eval_sums(const torch::Tensor& logits, const torch::Tensor& targets) const override {
    const auto top5 = classes_ > 5 ? std::get<1>(logits.topk(5, 1)).eq(targets.unsqueeze(1)).any(1).sum()
                                   : torch::zeros({}, targets.options());
    return torch::stack({cross_entropy(logits, targets, 0.0).sum().to(torch::kDouble),
                         correct(logits, targets).sum().to(torch::kDouble), top5.to(torch::kDouble)});
  }

  std::string describe(const Evaluation& e) const override { return "acc " + format_headline(e.acc.value_or(0.0)); }
  std::string headline_metric() const override { return "acc"; }
  std::string format_headline(double value) const override { return fmt::format("{:.2f}%", 100.0 * value); }

  Evaluation eval_result(const torch::Tensor& sums, int64_t count) const override {
    const double n = static_cast<double>(std::max<int64_t>(1, count));
    const auto s = sums.cpu();
    Evaluation result;
    result.loss = s[0].item<double>() / n;
    result.acc = s[1].item<double>() / n;
    result.score = *result.acc;
    if (classes_ > 5) result.acc5 = s[2].item<double>() / n;
    return result;
  }

 private:
  static torch::Tensor cross_entropy(const torch::Tensor& logits, const torch::Tensor& targets, double smoothing) {
    return F::cross_entropy(logits, targets,
                            F::CrossEntropyFuncOptions().reduction(torch::kNone).label_smoothing(smoothing));
  }

  int64_t classes_;
  double smoothing_;
};

const bool registered = tasks().add(
    "classification", "softmax cross entropy over classes (label smoothing); accuracy, top-5, loss",
    [](const TaskOptions& o, const TaskContext& c) -> std::unique_ptr<Task> {
      return std::make_unique<Classification>(o, c);
    });

}  // namespace
}  // namespace esrun
