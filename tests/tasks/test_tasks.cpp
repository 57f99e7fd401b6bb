#include <catch2/catch.hpp>

#include "esrun/tasks/task.h"
#include "helpers.h"

namespace {
std::unique_ptr<esrun::Task> make_task(const std::string& name, esrun::TaskOptions options = {},
                                       esrun::TaskContext context = {4, 1.0, ""}) {
  return esrun::tasks().create(name, "task.name", options, context);
}
esrun::Evaluation evaluate(const esrun::Task& task, const torch::Tensor& outputs, const torch::Tensor& targets) {
  return task.eval_result(task.eval_rows(outputs, targets));
}
esrun::TaskOptions regression_loss(const std::string& loss, double delta = 1.0) {
  esrun::TaskOptions options;
  options.loss = loss;
  options.huber_delta = delta;
  return options;
}
}  // namespace

TEST_CASE("Classification loss is cross entropy with label smoothing", "[task]") {
  esrun::TaskOptions options;
  options.label_smoothing = 0.1;
  const auto task = make_task("classification", options);
  const auto logits = torch::randn({6, 4}, torch::kDouble);
  const auto targets = torch::tensor({0, 1, 2, 3, 0, 1}, torch::kLong);
  const auto log_p = torch::log_softmax(logits, 1);
  const auto smoothed = torch::nn::functional::one_hot(targets, 4).to(torch::kDouble) * 0.9 + 0.1 / 4;
  CHECK(torch::allclose(task->loss(logits, targets), -(smoothed * log_p).sum(1)));
  CHECK(task->outputs() == 4);
}

TEST_CASE("Every task's gradient norm equals the autograd gradient of its loss", "[task]") {
  esrun::TaskOptions smoothing;
  smoothing.label_smoothing = 0.2;
  const auto classification = make_task("classification", smoothing, {7, 1.0, ""});
  auto logits = torch::randn({5, 7}, torch::TensorOptions(torch::kDouble).requires_grad(true));
  const auto labels = torch::tensor({0, 6, 3, 3, 1}, torch::kLong);
  classification->loss(logits, labels).sum().backward();
  CHECK(torch::allclose(classification->grad_sq_norm(logits.detach(), labels), logits.grad().pow(2).sum(1)));

  for (const std::string loss : {"mse", "l1", "huber"}) {
    const auto task = make_task("regression", regression_loss(loss, 0.7));
    auto outputs = torch::tensor({{0.1}, {2.0}, {-1.5}, {0.3}}, torch::TensorOptions(torch::kDouble).requires_grad(true));
    const auto targets = torch::tensor({0.4, 0.5, 0.2, -0.1}, torch::kDouble);
    task->loss(outputs, targets).sum().backward();
    INFO(loss);
    CHECK(torch::allclose(task->grad_sq_norm(outputs.detach(), targets), outputs.grad().pow(2).sum(1)));
  }
}

TEST_CASE("Regression losses match hand values", "[task]") {
  const auto outputs = torch::tensor({{1.0}, {3.0}, {-2.0}});
  const auto targets = torch::tensor({0.5, 0.0, -2.0});  // errors 0.5, 3, 0
  CHECK(torch::allclose(make_task("regression", regression_loss("mse"))->loss(outputs, targets), torch::tensor({0.25, 9.0, 0.0})));
  CHECK(torch::allclose(make_task("regression", regression_loss("l1"))->loss(outputs, targets), torch::tensor({0.5, 3.0, 0.0})));
  // Huber with delta 1: 0.5 e^2 inside, delta (|e| - delta / 2) outside.
  CHECK(torch::allclose(make_task("regression", regression_loss("huber"))->loss(outputs, targets),
                        torch::tensor({0.125, 2.5, 0.0})));
}

TEST_CASE("R^2 is 1 for a perfect fit and 0 for the mean predictor; errors are reported in original units", "[task]") {
  // Standardised targets with a training std of 10: errors of 0.1 are 1 unit of the original target.
  const auto task = make_task("regression", {}, {0, 10.0, ""});
  const auto targets = torch::tensor({-1.0, 0.0, 0.5, 1.5});
  const auto perfect = evaluate(*task, targets.view({-1, 1}), targets);
  CHECK(*perfect.r2 == Approx(1.0));
  CHECK(*perfect.rmse == Approx(0.0).margin(1e-9));
  const auto mean = torch::full({4, 1}, targets.mean().item<double>());
  CHECK(*evaluate(*task, mean, targets).r2 == Approx(0.0).margin(1e-9));
  const auto off = evaluate(*task, (targets + 0.1).view({-1, 1}), targets);
  CHECK(*off.rmse == Approx(1.0));
  CHECK(*off.mae == Approx(1.0));
  CHECK(*off.mse == Approx(1.0));
  CHECK(off.score == Approx(-1.0));
  CHECK(*off.acc == Approx(1.0));  // within the default tolerance of 0.5 standard deviations
  CHECK_FALSE(off.acc5);
}

TEST_CASE("Regression metrics from the rows of several batches equal one pass; R^2 is around the test mean", "[task]") {
  const auto task = make_task("regression", {}, {0, 3.0, ""});
  // Test targets whose mean (2.5) is far from the training mean (0): SST is around 2.5.
  const auto targets = torch::tensor({1.0, 2.0, 3.0, 4.0, 1.5, 3.5});
  const auto outputs = torch::tensor({{1.2}, {1.7}, {3.3}, {4.1}, {1.0}, {3.9}});
  const auto whole = evaluate(*task, outputs, targets);
  const auto parts = task->eval_result(torch::cat({task->eval_rows(outputs.narrow(0, 0, 4), targets.narrow(0, 0, 4)),
                                                   task->eval_rows(outputs.narrow(0, 4, 2), targets.narrow(0, 4, 2))}));
  const auto e = (outputs.view({-1}) - targets).to(torch::kDouble);
  const auto z = targets.to(torch::kDouble);
  const double r2 = 1.0 - e.pow(2).sum().item<double>() / (z - z.mean()).pow(2).sum().item<double>();
  CHECK(*whole.r2 == Approx(r2));
  CHECK(*parts.r2 == Approx(r2));
  CHECK(*parts.rmse == Approx(3.0 * std::sqrt(e.pow(2).mean().item<double>())));
  CHECK(*parts.mae == Approx(3.0 * e.abs().mean().item<double>()));
  // Every target the same: R^2 is undefined and reported as null.
  const auto flat = torch::full({3}, 2.0);
  CHECK_FALSE(evaluate(*task, flat.view({-1, 1}), flat).r2);
}

TEST_CASE("Classification metrics: accuracy, top-5 only with more than 5 classes", "[task]") {
  const auto logits = torch::tensor({{3.0, 1.0, 0.0}, {0.0, 1.0, 2.0}});
  const auto result = evaluate(*make_task("classification", {}, {3, 1.0, ""}), logits, torch::tensor({0, 1}));
  CHECK(*result.acc == Approx(0.5));
  CHECK(result.score == Approx(0.5));
  CHECK_FALSE(result.acc5);
  CHECK_FALSE(result.rmse);
}

TEST_CASE("A regression prediction is correct within the tolerance, with confidence exp(-|e| / tolerance)", "[task]") {
  esrun::TaskOptions options;
  options.tolerance = 0.25;
  const auto task = make_task("regression", options);
  const auto outputs = torch::tensor({{0.0}, {0.2}, {0.3}});
  const auto targets = torch::zeros({3});
  CHECK(task->correct(outputs, targets).equal(torch::tensor({true, true, false})));
  CHECK(torch::allclose(task->confidence(outputs, targets), torch::exp(torch::tensor({0.0, -0.8, -1.2}))));
}

TEST_CASE("F1 and Matthews correlation match hand-computed values", "[task][metrics]") {
  // tp 3, fp 1, fn 2, tn 2: F1 = 2*3 / (2*3 + 1 + 2) = 2/3; MCC = (3*2 - 1*2) / sqrt(4*5*3*4) = 4 / sqrt(240).
  const auto truth = torch::tensor({1, 1, 1, 1, 1, 0, 0, 0});
  const auto predicted = torch::tensor({1, 1, 1, 0, 0, 1, 0, 0});
  CHECK(esrun::f1_score(predicted, truth) == Approx(2.0 / 3.0));
  CHECK(esrun::matthews_correlation(predicted, truth, 2) == Approx(4.0 / std::sqrt(240.0)));
  CHECK(esrun::matthews_correlation(truth, truth, 2) == Approx(1.0));
  CHECK(esrun::matthews_correlation(1 - truth, truth, 2) == Approx(-1.0));
  // One predicted class: MCC is undefined and reported as 0, as scikit-learn does.
  CHECK(esrun::matthews_correlation(torch::ones({8}), truth, 2) == 0.0);
  // Three classes (Gorodkin): C = [[2,1,0],[0,2,0],[1,0,1]]: c = 5, s = 7, t = (3,2,2), p = (3,3,1);
  // (5*7 - (9+6+2)) / sqrt((49 - (9+9+1)) * (49 - (9+4+4))) = 18 / sqrt(30*32).
  const auto t3 = torch::tensor({0, 0, 0, 1, 1, 2, 2});
  const auto p3 = torch::tensor({0, 0, 1, 1, 1, 2, 0});
  CHECK(esrun::matthews_correlation(p3, t3, 3) == Approx(18.0 / std::sqrt(30.0 * 32.0)));
}

TEST_CASE("Pearson and Spearman correlations match hand-computed values, ties taking average ranks", "[task][metrics]") {
  const auto x = torch::tensor({1.0, 2.0, 3.0, 4.0, 5.0});
  const auto y = torch::tensor({2.0, 1.0, 4.0, 3.0, 5.0});
  // Pearson: deviations (-2,-1,0,1,2) and (-1,-2,1,0,2): 8 / sqrt(10 * 10) = 0.8; the ranks equal the values.
  CHECK(*esrun::pearson_correlation(x, y) == Approx(0.8));
  CHECK(*esrun::spearman_correlation(x, y) == Approx(0.8));
  // Spearman is Pearson on ranks: a monotone transform does not change it.
  CHECK(*esrun::spearman_correlation(x.exp(), y.pow(3)) == Approx(0.8));
  // Ties: (1, 2, 2, 3) ranks (1, 2.5, 2.5, 4) against (1, 2, 3, 4): deviations (-1.5, 0, 0, 1.5), (-1.5, -.5, .5, 1.5):
  // 4.5 / sqrt(4.5 * 5).
  CHECK(*esrun::spearman_correlation(torch::tensor({1.0, 2.0, 2.0, 3.0}), torch::tensor({1.0, 2.0, 3.0, 4.0})) ==
        Approx(4.5 / std::sqrt(4.5 * 5.0)));
  CHECK_FALSE(esrun::pearson_correlation(torch::ones({4}), x.narrow(0, 0, 4)));
  // A diverged model's NaN predictions have no correlation (and no rank).
  const auto nan = torch::tensor({1.0, std::nan(""), 3.0, 4.0, 5.0});
  CHECK_FALSE(esrun::pearson_correlation(nan, y));
  CHECK_FALSE(esrun::spearman_correlation(nan, y));
}

TEST_CASE("The headline metric is task.metric, else the dataset's, else the task's; it sets the score", "[task][metrics]") {
  const auto logits = torch::tensor({{2.0, 0.0}, {0.0, 2.0}, {0.0, 2.0}, {2.0, 0.0}});
  const auto labels = torch::tensor({0, 1, 0, 0});  // acc 0.75, predicted (0, 1, 1, 0)
  const auto plain = make_task("classification", {}, {2, 1.0, ""});
  CHECK(plain->headline_metric() == "acc");
  const auto cola = make_task("classification", {}, {2, 1.0, "mcc"});
  CHECK(cola->headline_metric() == "mcc");
  const auto result = evaluate(*cola, logits, labels);
  CHECK(*result.mcc == Approx(esrun::matthews_correlation(torch::tensor({0, 1, 1, 0}), labels, 2)));
  CHECK(result.score == Approx(*result.mcc));
  CHECK(*result.f1 == Approx(2.0 / 3.0));
  esrun::TaskOptions f1;
  f1.metric = "f1";
  CHECK(evaluate(*make_task("classification", f1, {2, 1.0, "mcc"}), logits, labels).score == Approx(2.0 / 3.0));
  // STS-B's pearson on a regression; rmse is negated into the score.
  const auto stsb = make_task("regression", {}, {0, 1.0, "pearson"});
  const auto outputs = torch::tensor({{0.1}, {1.2}, {1.9}}), targets = torch::tensor({0.0, 1.0, 2.0});
  const auto r = evaluate(*stsb, outputs, targets);
  CHECK(r.score == Approx(*r.pearson));
  CHECK(*r.spearman == Approx(1.0));
  CHECK(evaluate(*make_task("regression", {}, {0, 1.0, ""}), outputs, targets).score == Approx(-*r.rmse));
  // A metric the task does not have is an error naming task.metric.
  esrun::TaskOptions wrong;
  wrong.metric = "pearson";
  REQUIRE_THROWS_WITH(make_task("classification", wrong, {2, 1.0, ""}), Catch::Contains("task.metric") &&
                                                                            Catch::Contains("acc, mcc, f1"));
  wrong.metric = "f1";
  REQUIRE_THROWS_WITH(make_task("classification", wrong, {10, 1.0, ""}), Catch::Contains("got 'f1'"));
}
