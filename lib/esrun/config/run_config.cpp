#include "esrun/config/run_config.h"

#include <algorithm>
#include <filesystem>
#include <memory>

#include "esrun/config/readers.h"
#include "esrun/core/device.h"
#include "esrun/core/error.h"

namespace esrun {
namespace {

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

const char* to_string(BudgetKind kind) {
  switch (kind) {
    case BudgetKind::Epochs: return "epochs";
    case BudgetKind::Steps: return "steps";
    case BudgetKind::Samples: return "samples";
    case BudgetKind::Seconds: return "seconds";
  }
  return "?";
}

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

RunConfig load_run_config(const ResolvedConfig& input, bool warn) {
  const ResolvedConfig c = without_stale_notes(input);
  const Checker check(c, warn);
  RunConfig r;
  r.resolved = c;
  read_run(check, r);
  r.data = read_data(check, r.seed);
  r.task = read_task(check, r.data);
  r.model = read_model(check, r.data, known_task(r.data, r.task));
  r.train = read_train(check);
  r.task.label_smoothing = r.train.label_smoothing;
  r.eval = read_eval(check);
  r.score = read_score(check, r.train);
  read_runtime(check, r);
  r.optimizer = read_optimizer(check);
  r.schedule = read_schedule(check, r.train, r.optimizer);
  r.sampler = read_sampler(check, r.train, r.resolved);
  // The components' own errors name keys with their origin (a dataset's file, a model's preset).
  const auto origins = std::make_shared<const ResolvedConfig>(c);
  const KeyWhere where = [origins](const std::string& key) { return origins->where(key); };
  r.data.where = r.model.where = r.task.where = r.sampler.where = where;
  return r;
}

void check_environment(const RunConfig& config, bool scores) {
  const auto& c = config.resolved;
  if (reads(config.data.name, "data.root"))
    ESRUN_CHECK(std::filesystem::is_directory(config.data.root), c.where("data.root"), ": dataset directory '",
                config.data.root, "' does not exist (expected the ", config.data.name, " files there)");
  if (reads(config.model.name, "model.torchscript.path"))
    ESRUN_CHECK(std::filesystem::is_regular_file(config.model.torchscript.path), c.where("model.torchscript.path"),
                ": '", config.model.torchscript.path, "' is not a file (expected a TorchScript module saved by torch.jit.save)");
  if (scores && config.sampler.scores && reads(config.sampler.name, "sampler.scores"))
    ESRUN_CHECK(std::filesystem::is_regular_file(*config.sampler.scores), c.where("sampler.scores"), ": scores file '",
                *config.sampler.scores, "' does not exist; make it with esrun score --config CONFIG --method METHOD --out ",
                *config.sampler.scores);
  const torch::Device device = resolve_device(config.device, c.where("device"));
  ESRUN_CHECK(config.precision != Precision::Fp16 || device.is_cuda(), c.where("precision"), ": fp16 needs a CUDA device (device ",
              config.device, " resolved to ", device.str(), "); use bf16 or fp32");
}

}  // namespace esrun
