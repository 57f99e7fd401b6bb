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

RunConfig load_run_config(const ResolvedConfig& input, bool warn) {
  const ResolvedConfig c = without_stale_notes(input);
  const Checker check(c, warn);
  RunConfig r;
  r.resolved = c;
  read_run(check, r);
  r.data = read_data(check, r.seed);
  r.task = read_task(check, r.data);
  r.model = read_model(check, r.data, known_task(c, r.data, r.task));
  r.train = read_train(check);
  r.task.label_smoothing = r.train.label_smoothing;
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
