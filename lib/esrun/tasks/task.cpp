#include "esrun/tasks/task.h"

#include <spdlog/fmt/fmt.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "esrun/core/error.h"

namespace esrun {

TaskRegistry& tasks() {
  static TaskRegistry registry("task");
  return registry;
}

Task::Task(const std::string& default_metric, const std::vector<std::string>& known, const TaskOptions& options,
           const TaskContext& context)
    : metric_(options.metric.value_or(context.metric.empty() ? default_metric : context.metric)) {
  ESRUN_CHECK(std::find(known.begin(), known.end(), metric_) != known.end(), options.where("task.metric"),
              ": expected one of ", join(known), " for this task, got '", metric_, "'");
}

bool Task::lower_is_better() const {
  static const std::vector<std::string> errors = {"mse", "rmse", "mae", "perplexity", "loss"};
  return std::find(errors.begin(), errors.end(), metric_) != errors.end();
}

void Task::set_score(Evaluation& evaluation) const {
  const auto value = metric_value(evaluation, metric_);
  // Undefined or non-finite (a correlation on constant predictions, a diverged model) ranks below
  // every defined value.
  evaluation.score = value && std::isfinite(*value) ? (lower_is_better() ? -*value : *value) : -1e300;
}

std::vector<std::string> task_metrics(const std::string& task, int64_t classes) {
  std::vector<std::string> known;
  for (const auto& metric : tasks().facts(task).metrics)
    if ((metric != "acc5" || classes == 0 || classes > 5) && (metric != "f1" || classes == 0 || classes == 2))
      known.push_back(metric);
  return known;
}

std::optional<double> metric_value(const Evaluation& e, const std::string& metric) {
  if (metric == "loss") return e.loss;
  const std::pair<const char*, const std::optional<double>*> table[] = {
      {"acc", &e.acc}, {"acc5", &e.acc5}, {"mse", &e.mse}, {"rmse", &e.rmse}, {"mae", &e.mae}, {"r2", &e.r2},
      {"f1", &e.f1},   {"mcc", &e.mcc},   {"pearson", &e.pearson}, {"spearman", &e.spearman},
      {"perplexity", &e.perplexity}};
  for (const auto& [name, value] : table)
    if (metric == name) return *value;
  return std::nullopt;
}

std::string format_metric(const std::string& metric, double value) {
  if (metric == "acc" || metric == "acc5" || metric == "f1") return fmt::format("{:.2f}%", 100.0 * value);
  if (metric == "mcc" || metric == "pearson" || metric == "spearman" || metric == "r2")
    return fmt::format("{:.4f}", value);
  return fmt::format("{:.4g}", value);
}

namespace {
std::vector<double> host_values(const torch::Tensor& t) {
  const auto c = t.to(torch::kCPU, torch::kDouble).contiguous().view({-1});
  return {c.data_ptr<double>(), c.data_ptr<double>() + c.numel()};
}

// 1-based ranks, ties sharing the mean of their ranks (scipy.stats.rankdata's "average").
std::vector<double> average_ranks(const std::vector<double>& values) {
  std::vector<size_t> order(values.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return values[a] < values[b]; });
  std::vector<double> ranks(values.size());
  for (size_t begin = 0; begin < order.size();) {
    size_t end = begin + 1;
    while (end < order.size() && values[order[end]] == values[order[begin]]) ++end;
    const double rank = 0.5 * static_cast<double>(begin + 1 + end);  // mean of begin+1 .. end
    for (size_t i = begin; i < end; ++i) ranks[order[i]] = rank;
    begin = end;
  }
  return ranks;
}

bool all_finite(const std::vector<double>& values) {
  return std::all_of(values.begin(), values.end(), [](double v) { return std::isfinite(v); });
}

std::optional<double> pearson_of(const std::vector<double>& x, const std::vector<double>& y) {
  const auto n = static_cast<double>(x.size());
  if (x.size() < 2 || !all_finite(x) || !all_finite(y)) return std::nullopt;
  const double mx = std::accumulate(x.begin(), x.end(), 0.0) / n, my = std::accumulate(y.begin(), y.end(), 0.0) / n;
  double sxy = 0, sxx = 0, syy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  if (sxx <= 0 || syy <= 0) return std::nullopt;
  return sxy / std::sqrt(sxx * syy);
}
}  // namespace

double f1_score(const torch::Tensor& predicted, const torch::Tensor& truth) {
  const auto p = host_values(predicted), t = host_values(truth);
  double tp = 0, fp = 0, fn = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    tp += p[i] == 1 && t[i] == 1;
    fp += p[i] == 1 && t[i] != 1;
    fn += p[i] != 1 && t[i] == 1;
  }
  return tp + fp + fn > 0 ? tp / (tp + 0.5 * (fp + fn)) : 0.0;
}

double matthews_correlation(const torch::Tensor& predicted, const torch::Tensor& truth, int64_t classes) {
  const auto p = host_values(predicted), t = host_values(truth);
  const auto k = static_cast<size_t>(classes);
  std::vector<double> predicted_count(k, 0.0), true_count(k, 0.0);
  double correct = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    predicted_count[static_cast<size_t>(p[i])] += 1;
    true_count[static_cast<size_t>(t[i])] += 1;
    correct += p[i] == t[i];
  }
  const auto n = static_cast<double>(p.size());
  const double pt = std::inner_product(predicted_count.begin(), predicted_count.end(), true_count.begin(), 0.0);
  const double pp = std::inner_product(predicted_count.begin(), predicted_count.end(), predicted_count.begin(), 0.0);
  const double tt = std::inner_product(true_count.begin(), true_count.end(), true_count.begin(), 0.0);
  const double denominator = (n * n - pp) * (n * n - tt);
  return denominator > 0 ? (correct * n - pt) / std::sqrt(denominator) : 0.0;
}

std::optional<double> pearson_correlation(const torch::Tensor& x, const torch::Tensor& y) {
  return pearson_of(host_values(x), host_values(y));
}

std::optional<double> spearman_correlation(const torch::Tensor& x, const torch::Tensor& y) {
  const auto a = host_values(x), b = host_values(y);
  if (!all_finite(a) || !all_finite(b)) return std::nullopt;  // NaN has no rank
  return pearson_of(average_ranks(a), average_ranks(b));
}

}  // namespace esrun
