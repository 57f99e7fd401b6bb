#include "esrun/commands/resume.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "esrun/config/run_config.h"
#include "esrun/config/schema.h"
#include "esrun/core/error.h"
#include "esrun/train/trainer.h"

namespace esrun {

namespace fs = std::filesystem;

// Keys a resumed run may change: where and how fast it runs, how often it evaluates and saves, and
// a longer training (train.epochs may grow). Anything else would make the continuation a different
// experiment.
void check_resumable(const ResolvedConfig& now, const std::string& run_dir) {
  const ResolvedConfig saved =
      load_run_config(resolve_config({(std::filesystem::path(run_dir) / "config.resolved.yaml").string()}, {}),
                      /*warn=*/false).resolved;
  static const std::vector<std::string> allowed = {"threads", "device", "out_root", "train.eval_every",
                                                   "train.eval_batch", "train.on_nan", "checkpoint.every",
                                                   "checkpoint.best", "train.epochs", "progress.mode",
                                                   "progress.every", "distributed.backend", "distributed.timeout_s",
                                                   "distributed.check_sync", "score.batch", "logging.tensorboard",
                                                   "logging.tensorboard_steps", "eval.targets", "eval.every_steps"};
  std::string changed;
  for (const auto& key : config_schema()) {
    const std::string before = flow_yaml(saved.value(key.path)), after = flow_yaml(now.value(key.path));
    if (before == after) continue;
    if (std::find(allowed.begin(), allowed.end(), key.path) != allowed.end()) continue;
    changed += "\n  " + key.path + ": " + before + " -> " + after;
  }
  ESRUN_CHECK(changed.empty(), "--resume ", run_dir, ": the config differs from the run's config.resolved.yaml in keys a "
              "resumed run may not change:", changed, "\n(set them as the run had them, e.g. --set sampler.anneal_epochs=N "
              "for a default that moved with train.epochs; allowed: threads, device, out_root, train.epochs (to grow), "
              "train.eval_every, train.eval_batch, train.on_nan, eval.*, checkpoint.*, progress.*, logging.*, distributed.backend, "
              "distributed.timeout_s, distributed.check_sync, score.batch)");
  ESRUN_CHECK(now.get_int("train.epochs") >= saved.get_int("train.epochs"), "--resume ", run_dir, ": train.epochs ",
              now.get_int("train.epochs"), " is below the run's ", saved.get_int("train.epochs"), "; epochs may only grow");
  const bool budgeted = now.get_optional_int("train.budget.steps") || now.get_optional_int("train.budget.samples") ||
                        now.get_optional_float("train.budget.seconds");
  ESRUN_CHECK(!budgeted || now.get_int("train.epochs") == saved.get_int("train.epochs"), "--resume ", run_dir,
              ": train.epochs may not change under a steps, samples or seconds budget (it is the length its schedule "
              "spans, not how long it trains); the run had ", saved.get_int("train.epochs"));
}

// The run's last checkpoint; a damaged one is an error naming it and what is wrong, and the intact
// checkpoints beside it (the previous last.pt, best.pt) that the run could resume from instead.
Checkpoint read_last_checkpoint(const std::string& run_dir) {
  const fs::path folder = fs::path(run_dir) / "checkpoints", last = folder / "last.pt";
  const auto intact = [&](const fs::path& file) {
    try {
      return fs::exists(file) ? std::optional<int64_t>(read_checkpoint(file).next_epoch) : std::nullopt;
    } catch (const std::exception&) {
      return std::optional<int64_t>();
    }
  };
  // Read only when last.pt fails, so that a normal resume opens one checkpoint.
  const auto others = [&] {
    std::string text;
    for (const char* name : {"last.prev.pt", "best.pt"})
      if (const auto epoch = intact(folder / name))
        text += fmt::format("\n  {} is intact (epochs done: {}); to resume from it: cp {} {}", (folder / name).string(),
                            *epoch, (folder / name).string(), last.string());
    return text.empty() ? "\n  no other intact checkpoint in " + folder.string() : text;
  };
  ESRUN_CHECK(fs::exists(last), "--resume ", run_dir, ": no checkpoint at '", last.string(), "'", others());
  try {
    return read_checkpoint(last);
  } catch (const Error& e) {
    ESRUN_FAIL("--resume ", run_dir, ": ", e.what(), others());
  } catch (const std::exception& e) {  // an archive without a checkpoint's records
    ESRUN_FAIL("--resume ", run_dir, ": the checkpoint '", last.string(), "' is damaged (truncated or corrupt): ",
               libtorch_reason(e), others());
  }
}

void restore(Trainer& trainer, torch::serialize::InputArchive& state, const std::string& run_dir) {
  const std::string last = (fs::path(run_dir) / "checkpoints" / "last.pt").string();
  try {
    trainer.load(state);
  } catch (const Error& e) {
    ESRUN_FAIL("--resume ", run_dir, ": '", last, "' does not fit this run: ", e.what());
  } catch (const std::exception& e) {  // libtorch's, for state of another model, optimizer or policy
    ESRUN_FAIL("--resume ", run_dir, ": '", last, "' does not fit this run (", libtorch_reason(e),
               "): was it copied from another run?");
  }
}

}  // namespace esrun
