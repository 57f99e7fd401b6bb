#include "esrun/config/run_config.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>

#include "esrun/core/device.h"
#include "esrun/core/error.h"
#include "esrun/core/rng.h"
#include "esrun/data/dataset.h"
#include "esrun/models/model.h"
#include "esrun/optim/optimizer.h"
#include "esrun/optim/schedule.h"
#include "esrun/sampling/policy.h"
#include "esrun/scoring/scorer.h"
#include "esrun/tasks/task.h"

namespace esrun {
namespace {

constexpr int64_t kMaxCount = 2147483647;       // 2^31 - 1
constexpr int64_t kMaxEpochs = 1000000;
constexpr int64_t kMaxSeed = std::numeric_limits<int64_t>::max();

// The validation helpers: one message grammar, "<key> (<origin>): expected <rule>, got <value>".
class Checker {
 public:
  Checker(const ResolvedConfig& c, bool warn) : c_(c), warn_(warn) {}

  // Counts and sizes stay below 2^31 (libtorch's and the data formats' int32 indices) unless
  // `high` says otherwise.
  int64_t int_at_least(const std::string& path, int64_t low, int64_t high = kMaxCount) const {
    const int64_t v = c_.get_int(path);
    ESRUN_CHECK(v >= low, c_.where(path), ": expected an integer >= ", low, ", got ", v);
    ESRUN_CHECK(v <= high, c_.where(path), ": expected an integer in [", low, ", ", high, "], got ", v);
    return v;
  }
  std::optional<int64_t> optional_int_at_least(const std::string& path, int64_t low, int64_t high = kMaxCount) const {
    if (!c_.get_optional_int(path)) return std::nullopt;
    return int_at_least(path, low, high);
  }
  // low <= v < high, or low <= v <= high when `include_high`.
  double float_in(const std::string& path, double low, double high, bool include_high) const {
    const double v = c_.get_float(path);
    const bool ok = std::isfinite(v) && v >= low && (include_high ? v <= high : v < high);
    ESRUN_CHECK(ok, c_.where(path), ": expected a number in [", low, ", ", high, include_high ? "]" : ")",
                ", got ", v);
    return v;
  }
  double positive(const std::string& path) const {
    const double v = c_.get_float(path);
    ESRUN_CHECK(std::isfinite(v) && v > 0, c_.where(path), ": expected a number > 0, got ", v);
    return v;
  }
  std::string registered(const RegistryView& registry, const std::string& path) const {
    const std::string name = c_.get_string(path);
    registry.require(name, c_.where(path));
    return name;
  }
  // Keys the user set that the chosen component does not read: warn, never silently ignore.
  void warn_ignored(const std::string& section, const std::string& chosen) const {
    if (!warn_) return;
    for (const auto& key : config_schema()) {
      if (key.used_by.empty() || key.path.rfind(section + ".", 0) != 0 || !c_.user_set(key.path)) continue;
      // A resolved config written back as --config sets every key; only a changed value is news.
      if (flow_yaml(c_.value(key.path)) == flow_yaml(YAML::Load(key.default_yaml))) continue;
      if (std::find(key.used_by.begin(), key.used_by.end(), chosen) == key.used_by.end())
        spdlog::warn("{} is ignored by {} '{}'", c_.where(key.path), section, chosen);
    }
  }

 private:
  const ResolvedConfig& c_;
  bool warn_;
};

// The papers' defaults for sampler keys left null (docs/methods.md): b/B = 0.25 for the batch-level
// methods (0.5 = keep for omission, 1 for selective backprop: it trains on full batches of kept
// samples); ES (beta1, beta2) = (0.2, 0.9), ESWP (0.2, 0.8) with r = 0.2; omission (0.9, 0.99);
// InfoBatch r = 0.5; UCB, epsilon-greedy 0.3 (Raju et al.); Random*, reduced epochs and static
// pruning 0.3 (ours; InfoBatch's Table 1 runs 30/50/70%); RHO-LOSS b/B = 0.1 (Mindermann et al.).
struct SamplerDefaults {
  double ratio = 1.0;
  double beta1 = 0.2, beta2 = 0.9;
  double prune_ratio = 0.0;
};

SamplerDefaults sampler_defaults(const std::string& name) {
  static const std::map<std::string, SamplerDefaults> table = {
      {"es", {0.25, 0.2, 0.9, 0.0}},          {"eswp", {0.25, 0.2, 0.8, 0.2}},
      {"loss", {0.25, 0.2, 0.9, 0.0}},        {"order", {0.25, 0.2, 0.9, 0.0}},
      {"adaselection", {0.25, 0.2, 0.9, 0.0}}, {"selective_backprop", {1.0, 0.2, 0.9, 0.0}},
      {"omission", {0.5, 0.9, 0.99, 0.0}},    {"infobatch", {1.0, 0.2, 0.9, 0.5}},
      {"ucb", {1.0, 0.2, 0.9, 0.3}},          {"epsilon_greedy", {1.0, 0.2, 0.9, 0.3}},
      {"random_prune", {1.0, 0.2, 0.9, 0.3}}, {"reduced_epochs", {1.0, 0.2, 0.9, 0.3}},
      {"static_prune", {1.0, 0.2, 0.9, 0.3}}, {"rho_loss", {0.1, 0.2, 0.9, 0.0}},
  };
  const auto it = table.find(name);
  return it == table.end() ? SamplerDefaults{} : it->second;
}

// Writes the values the policy chose for the sampler keys it reads and the user left null into the
// config, each with a note saying so: config.resolved.yaml, print-config and the hash then record
// the beta, the annealing length and the b a run used, and a run that relied on a default has the
// same config as one that spelled it out.
// A value recorded with a note (default or derived) keeps it only while it is that default; one
// the user changed in a saved file is the user's.
void resolve_sampler_nulls(ResolvedConfig& c, const SamplerOptions& p, const SamplerDefaults& defaults, double ratio,
                           int64_t epochs) {
  const std::string policy_default = "default (" + p.name + ")";
  const auto fill = [&](const std::string& path, const YAML::Node& value, const YAML::Node& default_value,
                        const std::string& note) {
    const auto& readers = find_key(path)->used_by;
    if (std::find(readers.begin(), readers.end(), p.name) == readers.end()) return;
    if (c.value(path).IsNull()) c.resolve_null(path, value, note);
    else if (!c.origin(path).note.empty() && flow_yaml(c.value(path)) != flow_yaml(default_value)) c.drop_note(path);
  };
  const YAML::Node b(p.resolved_mini_batch);
  const YAML::Node default_ratio = yaml_number(p.name == "omission" ? p.keep : defaults.ratio);
  fill("sampler.beta1", yaml_number(p.beta1), yaml_number(defaults.beta1), policy_default);
  fill("sampler.beta2", yaml_number(p.beta2), yaml_number(defaults.beta2), policy_default);
  fill("sampler.anneal_epochs", YAML::Node(p.anneal_epochs), YAML::Node(std::llround(0.05 * static_cast<double>(epochs))),
       policy_default + ": round(0.05 * train.epochs)");
  fill("sampler.prune_ratio", yaml_number(p.prune_ratio), yaml_number(defaults.prune_ratio), policy_default);
  if (p.mini_batch)
    fill("sampler.ratio", yaml_number(ratio), yaml_number(ratio), "derived: mini_batch / meta_batch");
  else
    fill("sampler.ratio", yaml_number(ratio), default_ratio, policy_default + (p.name == "omission" ? ": keep" : ""));
  fill("sampler.mini_batch", b, b, "derived: round(ratio * meta_batch)");
}

// A config.resolved.yaml read back names the values its policy chose, by their notes. The derived
// ones (b and b/B, from each other and B) are derived afresh, and the defaults of another policy
// than sampler.name (a saved config re-run with another sampler) are that policy's no more; a
// policy's own defaults stay as recorded, so a resumed run keeps its annealing length when
// train.epochs grows.
ResolvedConfig without_stale_notes(ResolvedConfig c) {
  const std::string own = "default (" + c.get_string("sampler.name") + ")";
  for (const char* path : {"sampler.beta1", "sampler.beta2", "sampler.anneal_epochs", "sampler.prune_ratio",
                           "sampler.ratio", "sampler.mini_batch"}) {
    const std::string& note = c.origin(path).note;
    if (note.rfind("derived: ", 0) == 0 || (note.rfind("default (", 0) == 0 && note.rfind(own, 0) != 0)) c.forget(path);
  }
  return c;
}

}  // namespace

NoiseKind noise_kind_from_string(const std::string& name) {
  static const std::pair<const char*, NoiseKind> table[] = {
      {"none", NoiseKind::None}, {"uniform", NoiseKind::Uniform}, {"flip", NoiseKind::Flip}};
  for (const auto& [text, kind] : table)
    if (name == text) return kind;
  ESRUN_FAIL("unknown label-noise kind '", name, "'; known: none, uniform, flip");
}

const char* to_string(NoiseKind kind) {
  switch (kind) {
    case NoiseKind::None: return "none";
    case NoiseKind::Uniform: return "uniform";
    case NoiseKind::Flip: return "flip";
  }
  return "?";
}

RunConfig load_run_config(const ResolvedConfig& input, bool warn) {
  const ResolvedConfig c = without_stale_notes(input);
  const Checker check(c, warn);
  RunConfig r;
  r.resolved = c;
  const auto origins = std::make_shared<const ResolvedConfig>(c);
  const KeyWhere where = [origins](const std::string& key) { return origins->where(key); };
  r.data.where = where;
  r.model.where = where;
  r.task.where = where;
  r.sampler.where = where;
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

  DataOptions& d = r.data;
  const std::string on_device = c.get_string("data.on_device");
  if (on_device != "auto") d.on_device = on_device == "true";
  d.name = check.registered(datasets(), "data.name");
  d.root = c.get_string("data.root");
  d.label = c.get_string("data.label");
  d.train_files = c.get_optional_strings("data.train_files");
  d.test_files = c.get_optional_strings("data.test_files");
  for (const char* key : {"data.train_files", "data.test_files"}) {
    const auto files = c.get_optional_strings(key);
    ESRUN_CHECK(!files || !files->empty(), c.where(key), ": expected a non-empty list of files or null, got []");
  }
  d.train_subset = check.optional_int_at_least("data.train_subset", 1);
  d.test_subset = check.optional_int_at_least("data.test_subset", 1);
  d.synthetic.train_size = check.int_at_least("data.synthetic.train_size", 1);
  d.synthetic.test_size = check.int_at_least("data.synthetic.test_size", 1);
  d.synthetic.classes = check.int_at_least("data.synthetic.classes", 2);
  ESRUN_CHECK(d.synthetic.classes <= 8, c.where("data.synthetic.classes"),
              ": expected at most 8 (the number of shape kinds), got ", d.synthetic.classes);
  d.synthetic.image_size = check.int_at_least("data.synthetic.image_size", 8);
  d.synthetic.noise = check.float_in("data.synthetic.noise", 0.0, 1.0, true);
  d.augment.crop_padding = check.int_at_least("data.augment.crop_padding", 0);
  d.augment.flip = c.get_bool("data.augment.flip");
  ImageFolderOptions& folder = d.image_folder;
  folder.train_dir = c.get_string("data.image_folder.train_dir");
  folder.test_dir = c.get_string("data.image_folder.test_dir");
  folder.image_size = check.int_at_least("data.image_folder.image_size", 1);
  folder.resize = check.int_at_least("data.image_folder.resize", 1);
  ESRUN_CHECK(folder.resize >= folder.image_size, c.where("data.image_folder.resize"), ": is ", folder.resize,
              ", smaller than data.image_folder.image_size (", folder.image_size, "); the centre crop needs resize >= image_size");
  folder.min_scale = check.float_in("data.image_folder.min_scale", 0.0, 1.0, true);
  ESRUN_CHECK(folder.min_scale > 0, c.where("data.image_folder.min_scale"), ": expected a number in (0, 1], got 0");
  d.loader.workers = check.int_at_least("data.loader.workers", 0);
  d.loader.prefetch = check.int_at_least("data.loader.prefetch", 1);
  d.augment.normalize = c.get_bool("data.augment.normalize");
  for (const char* key : {"data.augment.mean", "data.augment.std"}) {
    const auto values = c.get_floats(key);
    if (values.empty()) continue;
    ESRUN_CHECK(std::all_of(values.begin(), values.end(), [](double v) { return std::isfinite(v); }), c.where(key),
                ": expected finite numbers, one per image channel, got ", flow_yaml(c.value(key)));
    (std::string(key) == "data.augment.mean" ? d.augment.mean : d.augment.std) = values;
  }
  ESRUN_CHECK(d.augment.mean.has_value() == d.augment.std.has_value(), c.where(d.augment.mean ? "data.augment.std" : "data.augment.mean"),
              ": set data.augment.mean and data.augment.std together (a pretrained model's input statistics), or neither");
  if (d.augment.mean) {
    const auto& images = find_key("data.augment.mean")->used_by;
    ESRUN_CHECK(std::find(images.begin(), images.end(), d.name) != images.end(), c.where("data.augment.mean"),
                ": ", d.name, " has no images to normalise; set null");
    ESRUN_CHECK(d.augment.normalize, c.where("data.augment.mean"), ": is set, but data.augment.normalize is false; "
                "set normalize: true to normalise with these statistics, or drop them");
  }
  if (d.augment.std)
    for (const double v : *d.augment.std)
      ESRUN_CHECK(v > 0, c.where("data.augment.std"), ": expected standard deviations > 0, got ", flow_yaml(c.value("data.augment.std")));
  d.label_noise.kind = noise_kind_from_string(c.get_string("data.label_noise.kind"));
  d.label_noise.ratio = check.float_in("data.label_noise.ratio", 0.0, 1.0, false);
  ESRUN_CHECK(d.label_noise.kind != NoiseKind::None || d.label_noise.ratio == 0.0, c.where("data.label_noise.ratio"),
              ": is ", d.label_noise.ratio, " but data.label_noise.kind is none; set kind to uniform or flip");
  // Every data draw derives from data.seed when it is set, else from the run seed.
  const auto data_seed = check.optional_int_at_least("data.seed", 0, kMaxSeed);
  const uint64_t data_base = data_seed ? static_cast<uint64_t>(*data_seed) : r.seed;
  const auto noise_seed = check.optional_int_at_least("data.label_noise.seed", 0, kMaxSeed);
  d.label_noise.seed = noise_seed ? static_cast<uint64_t>(*noise_seed) : derive_seed(data_base, "label_noise");
  CsvOptions& csv = d.csv;
  csv.file = c.get_string("data.csv.file");
  csv.test_file = c.get_optional_string("data.csv.test_file");
  csv.target = c.get_optional_string("data.csv.target").value_or("");
  ESRUN_CHECK(d.name != "csv_table" || !csv.target.empty(), c.where("data.csv.target"),
              ": expected the name of the target column");
  csv.features = c.get_optional_strings("data.csv.features");
  csv.drop = c.get_optional_strings("data.csv.drop").value_or(std::vector<std::string>{});
  csv.categorical = c.get_optional_strings("data.csv.categorical").value_or(std::vector<std::string>{});
  csv.test_fraction = check.float_in("data.csv.test_fraction", 0.0, 1.0, false);
  csv.split_column = c.get_optional_string("data.csv.split_column");
  csv.test_values = c.get_optional_strings("data.csv.test_values").value_or(std::vector<std::string>{});
  ESRUN_CHECK(!csv.split_column || !csv.test_values.empty(), c.where("data.csv.test_values"),
              ": expected the values of data.csv.split_column that mark test rows, got []");
  ESRUN_CHECK(!(csv.split_column && csv.test_file), c.where("data.csv.split_column"), " and ",
              c.where("data.csv.test_file"), ": set one of them, not both");
  ESRUN_CHECK(d.name != "csv_table" || csv.split_column || csv.test_file || csv.test_fraction > 0,
              c.where("data.csv.test_fraction"), ": is 0 with no data.csv.test_file or data.csv.split_column; "
              "the test split would be empty");
  csv.standardize = c.get_bool("data.csv.standardize");
  if (const auto split_seed = check.optional_int_at_least("data.csv.split_seed", 0, kMaxSeed))
    csv.split_seed = static_cast<uint64_t>(*split_seed);
  LinearOptions& linear = d.linear;
  linear.train_size = check.int_at_least("data.linear.train_size", 1);
  linear.test_size = check.int_at_least("data.linear.test_size", 1);
  linear.slope = c.get_float("data.linear.slope");
  linear.intercept = c.get_float("data.linear.intercept");
  linear.noise = check.float_in("data.linear.noise", 0.0, 1e300, true);
  linear.x_low = c.get_float("data.linear.x_low");
  linear.x_high = c.get_float("data.linear.x_high");
  ESRUN_CHECK(std::isfinite(linear.x_low) && std::isfinite(linear.x_high) && linear.x_low < linear.x_high,
              c.where("data.linear.x_low"), ": expected finite x_low < x_high = ", linear.x_high, ", got ", linear.x_low);
  d.svhn_extra = c.get_bool("data.svhn.extra");
  d.glue.task = c.get_string("data.glue.task");
  d.glue.dev = c.get_string("data.glue.dev");
  d.text_lm.train = c.get_string("data.text_lm.train");
  d.text_lm.test = c.get_string("data.text_lm.test");
  d.tokens_jsonl.train = c.get_string("data.tokens_jsonl.train");
  d.tokens_jsonl.test = c.get_string("data.tokens_jsonl.test");
  if (d.name == "tokens_jsonl") {
    const auto vocab = check.optional_int_at_least("data.tokens_jsonl.vocab_size", 1);
    ESRUN_CHECK(vocab.has_value(), c.where("data.tokens_jsonl.vocab_size"),
                ": expected the tokenizer's vocabulary size (every id in the records must be below it)");
    d.tokens_jsonl.vocab_size = *vocab;
  }
  TokenizerOptions& tok = d.tokenizer;
  tok.model = c.get_optional_string("data.tokenizer.model");
  tok.vocab_size = check.int_at_least("data.tokenizer.vocab_size", 8);
  tok.model_type = c.get_string("data.tokenizer.model_type");
  tok.lowercase = c.get_bool("data.tokenizer.lowercase");
  tok.max_length = check.int_at_least("data.tokenizer.max_length", 3);  // [CLS] a [SEP] b [SEP] needs room
  tok.train_sentences = check.optional_int_at_least("data.tokenizer.train_sentences", 1);
  d.seed = derive_seed(data_base, "data");
  check.warn_ignored("data", d.name);

  TaskOptions& task = r.task;
  task.name = c.get_optional_string("task.name");
  if (task.name) tasks().require(*task.name, c.where("task.name"));
  task.loss = c.get_string("task.loss");
  task.huber_delta = check.positive("task.huber_delta");
  task.tolerance = check.positive("task.tolerance");
  task.standardize = c.get_bool("task.standardize");
  task.metric = c.get_optional_string("task.metric");
  // The metric must be one the task reports; the task is known here when task.name is set or the
  // dataset's is fixed (glue: STS-B regression, the others classification). Class counts (f1 needs
  // two, acc5 more than five) are checked when the task is built.
  const std::string known_task = task.name.value_or(
      d.name == "glue" ? (d.glue.task == "stsb" ? "regression" : "classification") : d.name == "text_lm" ? "causal_lm" : "");
  if (task.metric && !known_task.empty()) {
    const auto known = task_metrics(known_task);
    ESRUN_CHECK(std::find(known.begin(), known.end(), *task.metric) != known.end(), c.where("task.metric"), ": ",
                *task.metric, " is not a metric of ", known_task, " (", join(known), ")");
  }
  const bool token_data = d.name == "text_lm" || d.name == "tokens_jsonl";
  ESRUN_CHECK(known_task != "causal_lm" || token_data, c.where("task.name"), ": causal_lm predicts tokens; it needs "
              "data.name text_lm or tokens_jsonl, not ", d.name);
  if (task.name) check.warn_ignored("task", *task.name);

  r.model.name = check.registered(models(), "model.name");
  ModelOptions& m = r.model;
  m.preset = c.get_optional_string("model.preset");
  const std::map<std::string, std::vector<std::string>> presets = {{"mlp", {"simple", "two_layer"}},
                                                                   {"vit", {"tiny", "small", "base", "large"}},
                                                                   {"transformer", {"tiny", "bert-base", "albert-base"}},
                                                                   {"gpt", {"tiny", "small"}}};
  if (m.preset) {
    const auto known = presets.find(m.name);
    ESRUN_CHECK(known != presets.end(), c.where("model.preset"), ": model '", m.name, "' has no presets; set null");
    ESRUN_CHECK(std::find(known->second.begin(), known->second.end(), *m.preset) != known->second.end(),
                c.where("model.preset"), ": expected one of ", join(known->second), " for ", m.name, ", got '",
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
  ESRUN_CHECK(m.name != "gpt" || known_task.empty() || known_task == "causal_lm", c.where("model.name"),
              ": gpt predicts the next token at every position, but the task is ", known_task,
              "; set task.name: causal_lm, or use model.name: transformer to classify sequences");
  if (m.name == "transformer" || m.name == "gpt") {
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

  TrainOptions& t = r.train;
  t.epochs = check.int_at_least("train.epochs", 1, kMaxEpochs);
  t.label_smoothing = check.float_in("train.label_smoothing", 0.0, 1.0, false);
  t.eval_every = check.int_at_least("train.eval_every", 1);
  t.eval_batch = check.int_at_least("train.eval_batch", 1);
  t.skip_nan = c.get_string("train.on_nan") == "skip";
  if (c.get_optional_float("train.clip_grad_norm")) t.clip_grad_norm = check.positive("train.clip_grad_norm");
  t.accumulate = check.optional_int_at_least("train.accumulate", 1);
  r.task.label_smoothing = t.label_smoothing;
  ScoreOptions& score = r.score;
  score.method = c.get_optional_string("score.method");
  if (score.method) scorers().require(*score.method, c.where("score.method"));
  score.out = c.get_optional_string("score.out");
  score.epoch = check.optional_int_at_least("score.epoch", 0, kMaxEpochs);
  ESRUN_CHECK(!score.epoch || *score.epoch <= t.epochs, c.where("score.epoch"), ": expected at most train.epochs = ",
              t.epochs, ", got ", score.epoch.value_or(0));
  score.holdout_fraction = check.float_in("score.holdout_fraction", 0.0, 1.0, false);
  score.repeats = check.int_at_least("score.repeats", 1);
  score.checkpoint = c.get_optional_string("score.checkpoint");
  score.batch = check.int_at_least("score.batch", 1);
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

  OptimizerOptions& o = r.optimizer;
  o.name = check.registered(optimizers(), "optimizer.name");
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

  ScheduleOptions& s = r.schedule;
  s.name = check.registered(schedules(), "schedule.name");
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

  SamplerOptions& p = r.sampler;
  p.name = check.registered(samplers(), "sampler.name");
  const SamplerDefaults defaults = sampler_defaults(p.name);
  p.meta_batch = check.int_at_least("sampler.meta_batch", 1);
  p.mini_batch = check.optional_int_at_least("sampler.mini_batch", 1);
  p.ratio = c.get_optional_float("sampler.ratio");
  p.drop_last = c.get_bool("sampler.drop_last");
  p.unbiased = c.get_bool("sampler.unbiased");
  p.adaptive_q = c.get_bool("sampler.adaptive_q");
  p.beta1 = c.get_optional_float("sampler.beta1").value_or(defaults.beta1);
  p.beta2 = c.get_optional_float("sampler.beta2").value_or(defaults.beta2);
  for (const auto& [key, value] : {std::pair{"sampler.beta1", p.beta1}, std::pair{"sampler.beta2", p.beta2}})
    ESRUN_CHECK(value >= 0 && value < 1, c.where(key), ": expected a number in [0, 1), got ", value);
  p.anneal_epochs = check.optional_int_at_least("sampler.anneal_epochs", 0)
                        .value_or(std::llround(0.05 * static_cast<double>(t.epochs)));
  ESRUN_CHECK(2 * p.anneal_epochs < t.epochs, c.where("sampler.anneal_epochs"), ": ", p.anneal_epochs,
              " annealing epochs at each end of ", t.epochs, " epochs leave none that selects; expected < epochs / 2");
  p.prune_ratio = c.get_optional_float("sampler.prune_ratio").value_or(defaults.prune_ratio);
  ESRUN_CHECK(p.prune_ratio >= 0 && p.prune_ratio < 1, c.where("sampler.prune_ratio"),
              ": expected a number in [0, 1), got ", p.prune_ratio);
  p.delta = check.float_in("sampler.delta", 0.0, 1.0, true);
  p.ema = c.get_bool("sampler.ema");
  p.rescale = c.get_bool("sampler.rescale");
  p.level = c.get_string("sampler.level");
  p.keep = check.float_in("sampler.keep", 0.0, 1.0, true);
  ESRUN_CHECK(p.keep > 0, c.where("sampler.keep"), ": expected a number in (0, 1], got 0");
  p.alpha = check.float_in("sampler.alpha", 0.0, 1.0, true);
  p.candidates = c.get_optional_strings("sampler.candidates").value_or(std::vector<std::string>{});
  static const std::vector<std::string> known_candidates = {"big_loss", "small_loss", "uniform", "grad_norm",
                                                            "adaboost", "coreset1", "coreset2"};
  ESRUN_CHECK(!p.candidates.empty(), c.where("sampler.candidates"), ": expected at least one candidate method");
  for (const auto& candidate : p.candidates)
    ESRUN_CHECK(std::find(known_candidates.begin(), known_candidates.end(), candidate) != known_candidates.end(),
                c.where("sampler.candidates"), ": unknown candidate '", candidate,
                "'; known: big_loss, small_loss, uniform, grad_norm, adaboost, coreset1, coreset2");
  p.method_beta = check.float_in("sampler.method_beta", -1.0, 1.0, true);
  p.cl_gamma = c.get_optional_float("sampler.cl_gamma");
  p.full_batches = c.get_bool("sampler.full_batches");
  p.sb_beta = check.positive("sampler.sb_beta");
  p.p_min = check.float_in("sampler.p_min", 0.0, 1.0, true);
  p.history = check.int_at_least("sampler.history", 1);
  p.period = check.int_at_least("sampler.period", 1);
  p.ucb_c = check.float_in("sampler.ucb_c", 0.0, 1e9, true);
  p.epsilon = check.float_in("sampler.epsilon", 0.0, 1.0, true);
  p.hide_fraction = check.float_in("sampler.hide_fraction", 0.0, 1.0, false);
  p.confidence = check.float_in("sampler.confidence", 0.0, 1.0, true);
  p.scores = c.get_optional_string("sampler.scores");
  ESRUN_CHECK(p.scores || (p.name != "static_prune" && p.name != "rho_loss"), c.where("sampler.scores"), ": ", p.name,
              " needs the scores file esrun score wrote (esrun score --config X --method M --out scores.pt)");
  p.score_keep = c.get_string("sampler.score_keep");
  p.strata = check.int_at_least("sampler.strata", 1);
  p.hard_cutoff = check.float_in("sampler.hard_cutoff", 0.0, 1.0, false);
  check.warn_ignored("sampler", p.name);
  // b from mini_batch, else from ratio, else from the policy's ratio (omission's batch level spends
  // its budget keep * B per meta-batch). Both may be set when they agree (config.resolved.yaml).
  const auto b_of = [&p](double ratio) {
    return std::max<int64_t>(1, std::llround(ratio * static_cast<double>(p.meta_batch)));
  };
  ESRUN_CHECK(!p.ratio || (*p.ratio > 0 && *p.ratio <= 1), c.where("sampler.ratio"), ": expected a number in (0, 1], got ",
              p.ratio.value_or(0));
  ESRUN_CHECK(!(p.mini_batch && p.ratio) || *p.mini_batch == b_of(*p.ratio), c.where("sampler.mini_batch"), " = ",
              p.mini_batch.value_or(0), " and ", c.where("sampler.ratio"), " = ", p.ratio.value_or(0),
              " disagree: ratio * meta_batch ", p.meta_batch, " gives b = ", b_of(p.ratio.value_or(0)),
              "; set one of them and the other to null");
  const double ratio = p.ratio   ? *p.ratio
                       : p.mini_batch ? static_cast<double>(*p.mini_batch) / static_cast<double>(p.meta_batch)
                       : p.name == "omission" ? p.keep : defaults.ratio;
  p.resolved_mini_batch = p.mini_batch.value_or(b_of(ratio));
  ESRUN_CHECK(p.resolved_mini_batch <= p.meta_batch, c.where("sampler.mini_batch"),
              ": expected mini-batch b <= meta-batch B = ", p.meta_batch, ", got ", p.resolved_mini_batch);
  // The rows of one training step: b for the batch-level policies, except AdaSelection's full
  // batches of B; B for the others, which ignore b.
  const auto& batch_level = find_key("sampler.mini_batch")->used_by;
  const bool selects_rows = std::find(batch_level.begin(), batch_level.end(), p.name) != batch_level.end();
  const int64_t step_rows = !selects_rows || (p.name == "adaselection" && p.full_batches) ? p.meta_batch : p.resolved_mini_batch;
  ESRUN_CHECK(!t.accumulate || *t.accumulate <= step_rows, c.where("train.accumulate"),
              ": expected micro-batches of at most the ", step_rows, " rows of a training step (the mini-batch b), got ",
              *t.accumulate);
  resolve_sampler_nulls(r.resolved, p, defaults, ratio, t.epochs);
  return r;
}

void check_environment(const RunConfig& config, bool scores) {
  const auto& c = config.resolved;
  const auto& readers = find_key("data.root")->used_by;
  if (std::find(readers.begin(), readers.end(), config.data.name) != readers.end())
    ESRUN_CHECK(std::filesystem::is_directory(config.data.root), c.where("data.root"), ": dataset directory '",
                config.data.root, "' does not exist (expected the ", config.data.name, " files there)");
  if (config.model.name == "torchscript")
    ESRUN_CHECK(std::filesystem::is_regular_file(config.model.torchscript.path), c.where("model.torchscript.path"),
                ": '", config.model.torchscript.path, "' is not a file (expected a TorchScript module saved by torch.jit.save)");
  const auto& readers_of_scores = find_key("sampler.scores")->used_by;
  if (scores && config.sampler.scores &&
      std::find(readers_of_scores.begin(), readers_of_scores.end(), config.sampler.name) != readers_of_scores.end())
    ESRUN_CHECK(std::filesystem::is_regular_file(*config.sampler.scores), c.where("sampler.scores"), ": scores file '",
                *config.sampler.scores, "' does not exist; make it with esrun score --config CONFIG --method METHOD --out ",
                *config.sampler.scores);
  const torch::Device device = resolve_device(config.device, c.where("device"));
  ESRUN_CHECK(config.precision != Precision::Fp16 || device.is_cuda(), c.where("precision"), ": fp16 needs a CUDA device (device ",
              config.device, " resolved to ", device.str(), "); use bf16 or fp32");
}

}  // namespace esrun
