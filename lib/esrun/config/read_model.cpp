// The readers of the task and the model sections (config/readers.h).
#include <algorithm>
#include <cmath>

#include "esrun/config/readers.h"
#include "esrun/core/error.h"

namespace esrun {

std::string known_task(const DataOptions& d, const TaskOptions& task) {
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
  const std::string known = known_task(d, task);
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
              c.where("model.name"), ": ", m.name, " serves ", join(facts.tasks), " only, but the task is ", task, "; set ",
              facts.tasks.size() == 1 ? "task.name: " + facts.tasks[0] : std::string("task.name to one of them"),
              ", or choose a model that serves ", task, " (esrun list models)");
  if (facts.has("positions")) {
    ESRUN_CHECK(!m.activation || *m.activation == "gelu" || *m.activation == "gelu_tanh" || *m.activation == "relu",
                c.where("model.activation"), ": expected one of gelu, gelu_tanh, relu for ", m.name, ", got '",
                *m.activation, "'");
    ESRUN_CHECK(!reads(d.name, "data.tokenizer.max_length") || d.tokenizer.max_length <= m.max_positions,
                c.where("data.tokenizer.max_length"),
                ": ", d.tokenizer.max_length, " tokens, but model.max_positions is ", m.max_positions, "; the ", m.name,
                " has no position embedding beyond it");
  }
  TorchScriptOptions& ts = m.torchscript;
  if (reads(m.name, "model.torchscript.path")) {
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

}  // namespace esrun
