// The readers of the run's top-level keys, the task, the model and the training sections
// (config/readers.h).
#include <algorithm>
#include <cmath>

#include "esrun/config/readers.h"
#include "esrun/core/error.h"

namespace esrun {

void read_run(const Checker& check, RunConfig& r) {
  const ResolvedConfig& c = check.config();
  r.name = c.get_string("name");
  ESRUN_CHECK(!r.name.empty() && r.name.find('/') == std::string::npos, c.where("name"),
              ": expected a non-empty name without '/', got '", r.name, "'");
  r.seed = static_cast<uint64_t>(check.int_at_least("seed", 0, kMaxSeed));
  r.device = c.get_string("device");
  ESRUN_CHECK(r.device == "auto" || r.device == "cpu" || r.device == "cuda" ||
                  (r.device.rfind("cuda:", 0) == 0 && r.device.size() > 5 &&
                   r.device.find_first_not_of("0123456789", 5) == std::string::npos),
              c.where("device"), ": expected auto, cpu, cuda or cuda:N, got '", r.device, "'");
  r.threads = check.int_at_least("threads", 0);
  const std::string precision = c.get_string("precision");
  r.precision = precision == "bf16" ? Precision::Bf16 : precision == "fp16" ? Precision::Fp16 : Precision::Fp32;
  ESRUN_CHECK(r.precision != Precision::Fp16 || r.device != "cpu", c.where("precision"),
              ": fp16 needs a CUDA device (device is cpu); use bf16 or fp32 on the CPU");
  r.channels_last = c.get_bool("channels_last");
  r.cudnn_benchmark = c.get_bool("cudnn_benchmark");
  r.timing = c.get_string("timing");
  r.out_root = c.get_string("out_root");

}

std::string known_task(const ResolvedConfig& /*c*/, const DataOptions& d, const TaskOptions& task) {
  if (task.name) return *task.name;
  // glue's task follows data.glue.task (STS-B is regression); a dataset that yields one task says so.
  if (d.name == "glue") return d.glue.task == "stsb" ? "regression" : "classification";
  const auto tasks = registry_of("dataset").facts(d.name).tasks;
  return tasks.size() == 1 ? tasks[0] : "";
}

TaskOptions read_task(const Checker& check, const DataOptions& d) {
  const ResolvedConfig& c = check.config();
  TaskOptions task;
  task.name = c.get_optional_string("task.name");
  if (task.name) registry_of("task").require(*task.name, c.where("task.name"));
  task.loss = c.get_string("task.loss");
  task.huber_delta = check.positive("task.huber_delta");
  task.tolerance = check.positive("task.tolerance");
  task.standardize = c.get_bool("task.standardize");
  task.metric = c.get_optional_string("task.metric");
  // The metric must be one the task reports; the task is known here when task.name is set or the
  // dataset's is fixed (glue: STS-B regression, the others classification). Class counts (f1 needs
  // two, acc5 more than five) are checked when the task is built.
  const std::string known = known_task(c, d, task);
  if (task.metric && !known.empty()) {
    const auto metrics = registry_of("task").facts(known).metrics;
    ESRUN_CHECK(std::find(metrics.begin(), metrics.end(), *task.metric) != metrics.end(), c.where("task.metric"), ": ",
                *task.metric, " is not a metric of ", known, " (", join(metrics), ")");
  }
  const bool token_data = registry_of("dataset").facts(d.name).has("tokens");
  ESRUN_CHECK(known != "causal_lm" || token_data, c.where("task.name"), ": causal_lm predicts tokens; it needs "
              "data.name text_lm or tokens_jsonl, not ", d.name);
  if (task.name) check.warn_ignored("task", *task.name);

  return task;
}

ModelOptions read_model(const Checker& check, const DataOptions& d, const std::string& task) {
  const ResolvedConfig& c = check.config();
  ModelOptions m;
  m.name = check.registered("model", "model.name");
  m.preset = c.get_optional_string("model.preset");
  const ComponentFacts facts = registry_of("model").facts(m.name);
  if (m.preset) {
    ESRUN_CHECK(!facts.presets.empty(), c.where("model.preset"), ": model '", m.name, "' has no presets; set null");
    ESRUN_CHECK(std::find(facts.presets.begin(), facts.presets.end(), *m.preset) != facts.presets.end(),
                c.where("model.preset"), ": expected one of ", join(facts.presets), " for ", m.name, ", got '",
                *m.preset, "'");
  }
  m.width = check.optional_int_at_least("model.width", 1);
  m.stem = c.get_string("model.stem");
  m.hidden = c.get_optional_ints("model.hidden");
  if (m.hidden)
    for (const int64_t size : *m.hidden)
      ESRUN_CHECK(size >= 1, c.where("model.hidden"), ": expected layer sizes >= 1, got ", flow_yaml(c.value("model.hidden")));
  m.activation = c.get_optional_string("model.activation");
  m.batch_norm = c.get_bool("model.batch_norm");
  for (const char* key : {"model.dropout", "model.attention_dropout", "model.head_dropout"})
    if (c.get_optional_float(key)) check.float_in(key, 0.0, 1.0, false);
  m.dropout = c.get_optional_float("model.dropout");
  m.attention_dropout = c.get_optional_float("model.attention_dropout");
  m.head_dropout = c.get_optional_float("model.head_dropout");
  const std::string albert = c.get_string("model.albert");
  if (albert != "auto") m.albert = albert == "true";
  m.embedding_size = check.optional_int_at_least("model.embedding_size", 1);
  m.norm = c.get_string("model.norm");
  m.max_positions = check.int_at_least("model.max_positions", 1);
  // A model for some tasks only (gpt: causal_lm) says so in its facts.
  ESRUN_CHECK(facts.tasks.empty() || task.empty() || std::find(facts.tasks.begin(), facts.tasks.end(), task) != facts.tasks.end(),
              c.where("model.name"), ": ", m.name, " serves ", join(facts.tasks), ", but the task is ", task,
              m.name == "gpt" ? "; set task.name: causal_lm, or use model.name: transformer to classify sequences" : "");
  if (facts.has("positions")) {
    ESRUN_CHECK(!m.activation || *m.activation == "gelu" || *m.activation == "gelu_tanh" || *m.activation == "relu",
                c.where("model.activation"), ": expected one of gelu, gelu_tanh, relu for ", m.name, ", got '",
                *m.activation, "'");
    ESRUN_CHECK(d.name == "tokens_jsonl" || d.tokenizer.max_length <= m.max_positions, c.where("data.tokenizer.max_length"),
                ": ", d.tokenizer.max_length, " tokens, but model.max_positions is ", m.max_positions, "; the ", m.name,
                " has no position embedding beyond it");
  }
  TorchScriptOptions& ts = m.torchscript;
  if (m.name == "torchscript") {
    const auto path = c.get_optional_string("model.torchscript.path");
    ESRUN_CHECK(path && !path->empty(), c.where("model.torchscript.path"),
                ": expected the TorchScript module file (torch.jit.save; scripts/export_torchscript.py makes one)");
    ts.path = *path;
  }
  ts.output = c.get_optional_string("model.torchscript.output");
  ts.head = c.get_string("model.torchscript.head");
  ESRUN_CHECK(!ts.head.empty(), c.where("model.torchscript.head"), ": expected auto, none or a submodule name, got ''");
  ts.freeze = c.get_optional_strings("model.torchscript.freeze").value_or(std::vector<std::string>{});
  ts.head_lr_scale = check.positive("model.torchscript.head_lr_scale");
  m.patch_size = check.optional_int_at_least("model.patch_size", 1);
  m.depth = check.optional_int_at_least("model.depth", 1);
  m.heads = check.optional_int_at_least("model.heads", 1);
  m.mlp_ratio = check.positive("model.mlp_ratio");
  m.pool = c.get_string("model.pool");
  check.warn_ignored("model", m.name);

  return m;
}

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
  return t;
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
