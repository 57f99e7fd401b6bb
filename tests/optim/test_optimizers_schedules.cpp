#include <catch2/catch.hpp>

#include "esrun/commands/run.h"
#include "esrun/optim/optimizer.h"
#include "esrun/optim/schedule.h"

namespace {
std::unique_ptr<esrun::Schedule> schedule(const std::vector<std::string>& sets) {
  auto sets_with_epochs = sets;
  sets_with_epochs.push_back("train.epochs=10");
  const auto config = esrun::load_config(esrun::RunRequest{{}, sets_with_epochs, std::nullopt});
  return esrun::schedules().create(config.schedule.name, "schedule.name", config.schedule, config.optimizer.lr, 10.0);
}
}  // namespace

TEST_CASE("OneCycle starts at lr/div, peaks at pct_start and ends at lr/div/final_div", "[optim][schedule]") {
  const auto s = schedule({"schedule.name=onecycle", "optimizer.lr=0.2", "schedule.pct_start=0.25"});
  CHECK(s->lr(0.0) == Approx(0.2 / 25));
  CHECK(s->lr(2.5) == Approx(0.2));
  CHECK(s->lr(2.4) < 0.2);
  CHECK(s->lr(2.6) < 0.2);
  CHECK(s->lr(10.0) == Approx(0.2 / 25 / 1e4));
  // Halfway through the rise, cosine interpolation gives the midpoint.
  CHECK(s->lr(1.25) == Approx((0.2 + 0.2 / 25) / 2));
  // Halfway through the anneal.
  CHECK(s->lr(2.5 + 3.75) == Approx((0.2 + 0.2 / 25 / 1e4) / 2));
}

TEST_CASE("Cosine warms up linearly then decays to min_lr", "[optim][schedule]") {
  const auto s = schedule({"schedule.name=cosine", "optimizer.lr=0.1", "schedule.warmup_epochs=2", "schedule.min_lr=0.001"});
  CHECK(s->lr(0.0) == Approx(0.0));
  CHECK(s->lr(1.0) == Approx(0.05));
  CHECK(s->lr(2.0) == Approx(0.1));
  CHECK(s->lr(6.0) == Approx((0.1 + 0.001) / 2));
  CHECK(s->lr(10.0) == Approx(0.001));
}

TEST_CASE("Linear warms up then decays linearly to min_lr", "[optim][schedule]") {
  const auto s = schedule({"schedule.name=linear", "optimizer.lr=0.1", "schedule.warmup_epochs=2", "schedule.min_lr=0.02"});
  CHECK(s->lr(0.0) == Approx(0.0));
  CHECK(s->lr(1.0) == Approx(0.05));
  CHECK(s->lr(2.0) == Approx(0.1));
  CHECK(s->lr(6.0) == Approx(0.06));
  CHECK(s->lr(10.0) == Approx(0.02));
  const auto to_zero = schedule({"schedule.name=linear", "optimizer.lr=0.1"});
  CHECK(to_zero->lr(0.0) == Approx(0.1));
  CHECK(to_zero->lr(7.5) == Approx(0.025));
  CHECK(to_zero->lr(10.0) == Approx(0.0).margin(1e-12));
}

TEST_CASE("Poly decays as (1 - t)^power after the warm-up", "[optim][schedule]") {
  const auto s = schedule({"schedule.name=poly", "optimizer.lr=0.1", "schedule.warmup_epochs=2", "schedule.power=2"});
  CHECK(s->lr(1.0) == Approx(0.05));
  CHECK(s->lr(2.0) == Approx(0.1));
  CHECK(s->lr(6.0) == Approx(0.1 * 0.25));  // t = 0.5
  CHECK(s->lr(10.0) == Approx(0.0).margin(1e-12));
  const auto power_one = schedule({"schedule.name=poly", "optimizer.lr=0.1", "schedule.min_lr=0.02"});
  const auto linear = schedule({"schedule.name=linear", "optimizer.lr=0.1", "schedule.min_lr=0.02"});
  for (double p : {0.0, 2.5, 5.0, 9.0}) CHECK(power_one->lr(p) == Approx(linear->lr(p)));
}

TEST_CASE("Gradient clipping scales the global norm down to the limit as libtorch's clip_grad_norm_ does", "[optim]") {
  auto make = [] {
    auto a = torch::tensor({3.0, 4.0}).requires_grad_(true);   // gradient norm 5
    auto b = torch::tensor({12.0}).requires_grad_(true);        // gradient norm 12, total 13
    (a * a / 2).sum().add((b * b / 2).sum()).backward();
    return std::vector<torch::Tensor>{a, b};
  };
  auto ours = make();
  esrun::clip_grad_norm(ours, 6.5);
  auto theirs = make();
  torch::nn::utils::clip_grad_norm_(theirs, 6.5);
  for (size_t i = 0; i < ours.size(); ++i) CHECK(torch::allclose(ours[i].grad(), theirs[i].grad()));
  const auto total = torch::cat({ours[0].grad(), ours[1].grad()}).norm().item<double>();
  CHECK(total == Approx(6.5).epsilon(1e-5));
  auto small = make();
  esrun::clip_grad_norm(small, 100.0);
  CHECK(torch::equal(small[0].grad(), torch::tensor({3.0f, 4.0f})));
  CHECK(torch::equal(small[1].grad(), torch::tensor({12.0f})));
}

TEST_CASE("train.clip_grad_norm must be positive and schedule.power too", "[optim][config]") {
  using Catch::Matchers::Contains;
  REQUIRE_THROWS_WITH(esrun::load_config(esrun::RunRequest{{}, {"train.clip_grad_norm=0"}, std::nullopt}),
                      Contains("train.clip_grad_norm (--set train.clip_grad_norm=0): expected a number > 0, got 0"));
  REQUIRE_THROWS_WITH(esrun::load_config(esrun::RunRequest{{}, {"schedule.name=poly", "schedule.power=-1"}, std::nullopt}),
                      Contains("schedule.power (--set schedule.power=-1): expected a number > 0, got -1"));
  CHECK_FALSE(esrun::load_config(esrun::RunRequest{{}, {}, std::nullopt}).train.clip_grad_norm.has_value());
}

TEST_CASE("Step multiplies by gamma at each milestone reached", "[optim][schedule]") {
  const auto s = schedule({"schedule.name=step", "optimizer.lr=1.0", "schedule.milestones=[3, 6.5]", "schedule.gamma=0.5"});
  CHECK(s->lr(0.0) == Approx(1.0));
  CHECK(s->lr(2.99) == Approx(1.0));
  CHECK(s->lr(3.0) == Approx(0.5));
  CHECK(s->lr(6.6) == Approx(0.25));
}

TEST_CASE("Constant keeps the base learning rate", "[optim][schedule]") {
  const auto s = schedule({"schedule.name=constant", "optimizer.lr=0.03"});
  CHECK(s->lr(0.0) == Approx(0.03));
  CHECK(s->lr(9.9) == Approx(0.03));
}

TEST_CASE("Optimizers are built with the configured hyper-parameters", "[optim]") {
  const auto config = esrun::load_config(
      esrun::RunRequest{{}, {"optimizer={name: sgd, lr: 0.3, momentum: 0.8, nesterov: true, weight_decay: 0.001}"}, std::nullopt});
  auto weight = torch::ones({2}, torch::requires_grad());
  auto sgd = esrun::optimizers().create("sgd", "optimizer.name", config.optimizer, {weight});
  const auto& options = static_cast<const torch::optim::SGDOptions&>(sgd->param_groups()[0].options());
  CHECK(options.lr() == Approx(0.3));
  CHECK(options.momentum() == Approx(0.8));
  CHECK(options.nesterov());
  CHECK(options.weight_decay() == Approx(0.001));
  auto adamw = esrun::optimizers().create("adamw", "optimizer.name", config.optimizer, {weight});
  CHECK(dynamic_cast<torch::optim::AdamW*>(adamw.get()) != nullptr);
}

TEST_CASE("OneCycle cycles momentum inversely to the learning rate", "[optim][schedule]") {
  const auto s = schedule({"schedule.name=onecycle", "schedule.pct_start=0.25"});
  CHECK(s->momentum(0.0).value() == Approx(0.95));
  CHECK(s->momentum(2.5).value() == Approx(0.85));
  CHECK(s->momentum(1.25).value() == Approx(0.90));
  CHECK(s->momentum(10.0).value() == Approx(0.95));
  CHECK_FALSE(schedule({"schedule.name=onecycle", "schedule.cycle_momentum=false"})->momentum(1.0).has_value());
  CHECK_FALSE(schedule({"schedule.name=cosine"})->momentum(1.0).has_value());
}

TEST_CASE("set_momentum sets SGD momentum and Adam beta1", "[optim]") {
  const auto config = esrun::load_config(esrun::RunRequest{{}, {}, std::nullopt});
  auto weight = torch::ones({2}, torch::requires_grad());
  auto sgd = esrun::optimizers().create("sgd", "optimizer.name", config.optimizer, {weight});
  esrun::set_momentum(*sgd, 0.85);
  CHECK(static_cast<const torch::optim::SGDOptions&>(sgd->param_groups()[0].options()).momentum() == Approx(0.85));
  auto adam = esrun::optimizers().create("adam", "optimizer.name", config.optimizer, {weight});
  esrun::set_momentum(*adam, 0.8);
  const auto betas = static_cast<const torch::optim::AdamOptions&>(adam->param_groups()[0].options()).betas();
  CHECK(std::get<0>(betas) == Approx(0.8));
  CHECK(std::get<1>(betas) == Approx(0.999));
}

TEST_CASE("no_decay_bias_norm puts biases and normalisation weights in a group without weight decay", "[optim]") {
  esrun::ModelOptions model_options;
  model_options.name = "small_cnn";
  model_options.outputs = 10;
  model_options.input_shape = {3, 32, 32};
  const auto model = esrun::models().create("small_cnn", "model.name", model_options);
  auto config = esrun::load_config(esrun::RunRequest{{}, {"optimizer={name: adamw, weight_decay: 0.05}"}, std::nullopt});
  // auto: off for a CNN.
  CHECK(esrun::make_optimizer(config.optimizer, "optimizer.name", *model)->param_groups().size() == 1);
  config = esrun::load_config(
      esrun::RunRequest{{}, {"optimizer={name: adamw, weight_decay: 0.05, no_decay_bias_norm: true}"}, std::nullopt});
  const auto optimizer = esrun::make_optimizer(config.optimizer, "optimizer.name", *model);
  REQUIRE(optimizer->param_groups().size() == 2);
  const auto& decayed = optimizer->param_groups()[0];
  const auto& exempt = optimizer->param_groups()[1];
  CHECK(static_cast<const torch::optim::AdamWOptions&>(decayed.options()).weight_decay() == Approx(0.05));
  CHECK(static_cast<const torch::optim::AdamWOptions&>(exempt.options()).weight_decay() == 0.0);
  for (const auto& p : decayed.params()) CHECK(p.dim() > 1);
  for (const auto& p : exempt.params()) CHECK(p.dim() <= 1);
  CHECK(decayed.params().size() + exempt.params().size() == model->parameters().size());
}
