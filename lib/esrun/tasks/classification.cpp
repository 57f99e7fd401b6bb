// classification: softmax cross entropy with label smoothing over K classes. "Correct" is
// argmax == target, the confidence the largest softmax probability, and ||dl/dz||^2 at the logits
// z is ||softmax(z) - t||^2 with t the smoothed target (1 - eps) onehot(y) + eps / K.
// Evaluation: loss (no smoothing), top-1 accuracy, Matthews correlation, and top-5 accuracy with
// more than 5 classes or F1 of class 1 with two. The headline metric is task.metric, else the
// dataset's (GLUE: mcc for CoLA, f1 for MRPC and QQP), else accuracy.
#include "esrun/tasks/task.h"

namespace esrun {
namespace {

namespace F = torch::nn::functional;

class Classification final : public Task {
 public:
  Classification(const TaskOptions& options, const TaskContext& context)
      : Task("acc", task_metrics("classification", context.num_classes), options, context),
        classes_(context.num_classes),
        smoothing_(options.label_smoothing) {}

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

  // Rows: loss, correct, in the top 5, predicted class, true class.
  torch::Tensor eval_rows(const torch::Tensor& logits, const torch::Tensor& targets) const override {
    const auto top5 = classes_ > 5 ? std::get<1>(logits.topk(5, 1)).eq(targets.unsqueeze(1)).any(1)
                                   : torch::zeros_like(targets, torch::kBool);
    return torch::stack({cross_entropy(logits, targets, 0.0).to(torch::kDouble), correct(logits, targets).to(torch::kDouble),
                         top5.to(torch::kDouble), logits.argmax(1).to(torch::kDouble), targets.to(torch::kDouble)},
                        1);
  }

  Evaluation eval_result(const torch::Tensor& rows) const override {
    const auto r = rows.cpu();
    const double n = static_cast<double>(std::max<int64_t>(1, r.size(0)));
    Evaluation result;
    result.loss = r.select(1, 0).sum().item<double>() / n;
    result.acc = r.select(1, 1).sum().item<double>() / n;
    if (classes_ > 5) result.acc5 = r.select(1, 2).sum().item<double>() / n;
    if (classes_ == 2) result.f1 = f1_score(r.select(1, 3), r.select(1, 4));
    result.mcc = matthews_correlation(r.select(1, 3), r.select(1, 4), classes_);
    set_score(result);
    return result;
  }

  std::string describe(const Evaluation& e) const override {
    std::string text = "acc " + format_metric("acc", e.acc.value_or(0.0));
    if (headline_metric() == "f1") text += " f1 " + format_metric("f1", e.f1.value_or(0.0));
    if (headline_metric() == "mcc") text += " mcc " + format_metric("mcc", e.mcc.value_or(0.0));
    return text;
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
    "classification", "softmax cross entropy over classes (label smoothing); accuracy, top-5, F1 (two classes), Matthews correlation, loss",
    [](const TaskOptions& o, const TaskContext& c) -> std::unique_ptr<Task> {
      return std::make_unique<Classification>(o, c);
    },
    {.metrics = {"acc", "mcc", "acc5", "f1"}});

}  // namespace
}  // namespace esrun
