// The readers of the training sections: train, score, checkpoint, distributed, progress,
// logging, optimizer and schedule (config/readers.h).
#include <algorithm>
#include <cmath>

#include "esrun/config/readers.h"
#include "esrun/core/error.h"

namespace esrun {

TrainOptions read_train(const Checker& check) {
  const ResolvedConfig& c = check.config();
  TrainOptions t;
  t.epochs = check.int_at_least("train.epochs", 1, kMaxEpochs);
  t.label_smoothing = check.float_in("train.label_smoothing", 0.0, 1.0, false);
  t.eval_every = check.int_at_least("train.eval_every", 1);
  t.eval_batch = check.int_at_least("train.eval_batch", 1);
  t.skip_nan = c.get_string("train.on_nan") == "skip";
  if (c.get_optional_float("train.clip_grad_norm")) t.clip_grad_norm = check.positive("train.clip_grad_norm");
  t.accumulate = check.optional_int_at_least("train.accumulate", 1);
  t.budget = BudgetOptions{BudgetKind::Epochs, static_cast<double>(t.epochs)};
  std::optional<std::string> chosen;
  const auto choose = [&](const char* key, BudgetKind kind, double amount) {
    ESRUN_CHECK(!chosen, c.where(key), ": expected one budget, but ", *chosen, " is set too");
    chosen = key;
    t.budget = BudgetOptions{kind, amount};
  };
  if (const auto steps = check.optional_int_at_least("train.budget.steps", 1, kMaxSteps))
    choose("train.budget.steps", BudgetKind::Steps, static_cast<double>(*steps));
  if (const auto samples = check.optional_int_at_least("train.budget.samples", 1, kMaxSteps))
    choose("train.budget.samples", BudgetKind::Samples, static_cast<double>(*samples));
  if (c.get_optional_float("train.budget.seconds"))
    choose("train.budget.seconds", BudgetKind::Seconds, check.positive("train.budget.seconds"));
  return t;
}

EvalOptions read_eval(const Checker& check) {
  const ResolvedConfig& c = check.config();
  EvalOptions e;
  e.targets = c.get_floats("eval.targets");
  for (const double target : e.targets)
    ESRUN_CHECK(std::isfinite(target), c.where("eval.targets"), ": expected finite numbers, got ",
                flow_yaml(c.value("eval.targets")));
  e.every_steps = check.int_at_least("eval.every_steps", 0);
  return e;
}

ScoreOptions read_score(const Checker& check, const TrainOptions& t) {
  const ResolvedConfig& c = check.config();
  ScoreOptions score;
  score.method = c.get_optional_string("score.method");
  if (score.method) registry_of("scorer").require(*score.method, c.where("score.method"));
  score.out = c.get_optional_string("score.out");
  score.epoch = check.optional_int_at_least("score.epoch", 0, kMaxEpochs);
  ESRUN_CHECK(!score.epoch || *score.epoch <= t.epochs, c.where("score.epoch"), ": expected at most train.epochs = ",
              t.epochs, ", got ", score.epoch.value_or(0));
  score.holdout_fraction = check.float_in("score.holdout_fraction", 0.0, 1.0, false);
  score.repeats = check.int_at_least("score.repeats", 1);
  score.checkpoint = c.get_optional_string("score.checkpoint");
  score.batch = check.int_at_least("score.batch", 1);
  return score;
}

void read_runtime(const Checker& check, RunConfig& r) {
  const ResolvedConfig& c = check.config();
  r.checkpoint.every = check.int_at_least("checkpoint.every", 0);
  r.checkpoint.best = c.get_bool("checkpoint.best");
  r.distributed.backend = c.get_string("distributed.backend");
  r.distributed.timeout_s = check.positive("distributed.timeout_s");
  r.distributed.check_sync = c.get_bool("distributed.check_sync");
  r.distributed.sync_bn = c.get_bool("distributed.sync_bn");
  r.progress.mode = c.get_string("progress.mode");
  r.progress.every = check.positive("progress.every");
  r.logging.tensorboard = c.get_bool("logging.tensorboard");
  r.logging.tensorboard_steps = check.int_at_least("logging.tensorboard_steps", 0);
}

OptimizerOptions read_optimizer(const Checker& check) {
  const ResolvedConfig& c = check.config();
  OptimizerOptions o;
  o.name = check.registered("optimizer", "optimizer.name");
  o.lr = check.positive("optimizer.lr");
  o.momentum = check.float_in("optimizer.momentum", 0.0, 1.0, false);
  o.nesterov = c.get_bool("optimizer.nesterov");
  ESRUN_CHECK(!o.nesterov || o.momentum > 0, c.where("optimizer.nesterov"),
              ": Nesterov momentum needs optimizer.momentum > 0");
  o.weight_decay = check.float_in("optimizer.weight_decay", 0.0, 1.0, false);
  const auto betas = c.get_floats("optimizer.betas");
  ESRUN_CHECK(betas.size() == 2 && betas[0] >= 0 && betas[0] < 1 && betas[1] >= 0 && betas[1] < 1,
              c.where("optimizer.betas"), ": expected two numbers in [0, 1), got ", flow_yaml(c.value("optimizer.betas")));
  o.beta1 = betas[0];
  o.beta2 = betas[1];
  o.eps = check.positive("optimizer.eps");
  const std::string no_decay = c.get_string("optimizer.no_decay_bias_norm");
  if (no_decay != "auto") o.no_decay_bias_norm = no_decay == "true";
  check.warn_ignored("optimizer", o.name);

  return o;
}

ScheduleOptions read_schedule(const Checker& check, const TrainOptions& t, const OptimizerOptions& o) {
  const ResolvedConfig& c = check.config();
  ScheduleOptions s;
  s.name = check.registered("schedule", "schedule.name");
  s.pct_start = check.float_in("schedule.pct_start", 0.0, 1.0, false);
  ESRUN_CHECK(s.pct_start > 0, c.where("schedule.pct_start"), ": expected a number in (0, 1), got 0");
  s.div_factor = check.positive("schedule.div_factor");
  s.final_div_factor = check.positive("schedule.final_div_factor");
  s.cycle_momentum = c.get_bool("schedule.cycle_momentum");
  s.base_momentum = check.float_in("schedule.base_momentum", 0.0, 1.0, false);
  s.max_momentum = check.float_in("schedule.max_momentum", 0.0, 1.0, false);
  ESRUN_CHECK(s.base_momentum <= s.max_momentum, c.where("schedule.base_momentum"), ": expected <= schedule.max_momentum = ",
              s.max_momentum, ", got ", s.base_momentum);
  s.warmup_epochs = check.float_in("schedule.warmup_epochs", 0.0, static_cast<double>(t.epochs), false);
  s.min_lr = check.float_in("schedule.min_lr", 0.0, o.lr, true);
  s.power = check.positive("schedule.power");
  s.milestones = c.get_floats("schedule.milestones");
  ESRUN_CHECK(std::is_sorted(s.milestones.begin(), s.milestones.end()) &&
                  (s.milestones.empty() || (s.milestones.front() >= 0 && s.milestones.back() <= t.epochs)),
              c.where("schedule.milestones"), ": expected increasing epochs in [0, train.epochs = ", t.epochs, "], got ",
              flow_yaml(c.value("schedule.milestones")));
  s.gamma = check.positive("schedule.gamma");
  check.warn_ignored("schedule", s.name);

  return s;
}

}  // namespace esrun
