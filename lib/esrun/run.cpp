#include "esrun/run.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <iomanip>

#include "esrun/core/build_info.h"
#include "esrun/core/device.h"
#include "esrun/core/distributed.h"
#include "esrun/core/error.h"
#include "esrun/core/files.h"
#include "esrun/core/sealed_archive.h"
#include "esrun/core/stop.h"
#include "esrun/data/dataset.h"
#include "esrun/metrics/run_directory.h"
#include "esrun/metrics/tensorboard_log.h"
#include "esrun/models/model.h"
#include "esrun/optim/optimizer.h"
#include "esrun/optim/schedule.h"
#include "esrun/sampling/policy.h"
#include "esrun/scoring/scorer.h"
#include "esrun/tasks/task.h"
#include "esrun/train/trainer.h"

namespace esrun {
namespace {

std::string format_record(const EpochRecord& r, const Task& task, int64_t epochs, double images_per_second) {
  std::ostringstream line;
  const auto percent = [](double v) { return fmt::format("{:.2f}%", 100 * v); };
  line << std::fixed << std::setprecision(4) << "epoch " << r.epoch + 1 << "/" << epochs << "  lr " << r.lr
       << std::setprecision(3) << "  train loss " << r.train_loss << " acc " << percent(r.train_acc);
  if (r.evaluated) line << "  test loss " << r.test.loss << " " << task.describe(r.test);
  line << "  bp " << r.samples_backward << "/" << r.epoch_dataset_size;
  if (r.noisy_backward_fraction) line << "  noisy " << percent(*r.noisy_backward_fraction);
  line << std::setprecision(1) << "  " << r.time.epoch_total << "s (" << std::setprecision(0) << images_per_second
       << " img/s)";
  return line.str();
}

}  // namespace

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
                                                   "logging.tensorboard_steps"};
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
              "train.eval_every, train.eval_batch, train.on_nan, checkpoint.*, progress.*, logging.*, distributed.backend, "
              "distributed.timeout_s, distributed.check_sync, score.batch)");
  ESRUN_CHECK(now.get_int("train.epochs") >= saved.get_int("train.epochs"), "--resume ", run_dir, ": train.epochs ",
              now.get_int("train.epochs"), " is below the run's ", saved.get_int("train.epochs"), "; epochs may only grow");
}

RunConfig load_config(const RunRequest& request) {
  std::vector<std::string> files = request.configs;
  if (request.resume) files.insert(files.begin(), (std::filesystem::path(*request.resume) / "config.resolved.yaml").string());
  return load_run_config(resolve_config(files, request.sets));
}

namespace {

namespace fs = std::filesystem;

nlohmann::json json_value(ValueType type, const YAML::Node& node) {
  if (node.IsNull()) return nullptr;
  switch (type) {
    case ValueType::Int: return node.as<int64_t>();
    case ValueType::Float: return node.as<double>();
    case ValueType::Bool: return node.as<bool>();
    case ValueType::String: return node.as<std::string>();
    case ValueType::IntList: return node.as<std::vector<int64_t>>();
    case ValueType::FloatList: return node.as<std::vector<double>>();
    case ValueType::StringList: return node.as<std::vector<std::string>>();
  }
  return nullptr;
}

}  // namespace

nlohmann::json sampler_settings(const RunConfig& config) {
  nlohmann::json settings = nlohmann::json::object();
  for (const auto& key : config_schema()) {
    if (key.path.rfind("sampler.", 0) != 0) continue;
    if (!key.used_by.empty() &&
        std::find(key.used_by.begin(), key.used_by.end(), config.sampler.name) == key.used_by.end())
      continue;
    settings[key.path.substr(8)] = json_value(key.type, config.resolved.value(key.path));
  }
  return settings;
}

namespace {

// The test metrics of the last evaluation (final_test_*) and of the best one by the task's score
// (best_test_*: the highest test_score, the task's headline metric), null where the task has none.
nlohmann::json summarise(const std::vector<nlohmann::json>& records) {
  static const char* metrics[] = {"loss", "acc", "acc5", "mse", "rmse", "mae", "r2", "f1", "mcc", "pearson", "spearman", "perplexity"};
  const nlohmann::json* last = nullptr;
  const nlohmann::json* best = nullptr;
  int64_t forward = 0, backward = 0, passes = 0;
  double train_seconds = 0;
  for (const auto& r : records) {
    if (r.contains("test_score") && !r["test_score"].is_null()) {  // records before issue 13 have none
      last = &r;
      if (!best || r["test_score"].get<double>() > (*best)["test_score"].get<double>()) best = &r;
    }
    forward += r["samples_forward"].get<int64_t>();
    passes += r.value("backward_passes", int64_t{0});  // records before issue 15 have none
    backward = r["samples_backward_total"].get<int64_t>();
    train_seconds = r["time"]["train_total_so_far"].get<double>();
  }
  nlohmann::json summary = {{"best_epoch", best ? (*best)["epoch"].get<int64_t>() : -1},
                            {"train_time_s", train_seconds},
                            {"samples_backward_total", backward},
                            {"samples_forward_total", forward},
                            {"backward_passes_total", passes}};
  for (const char* metric : metrics) {
    const std::string key = std::string("test_") + metric;
    summary["final_" + key] = last ? last->value(key, nlohmann::json(nullptr)) : nlohmann::json(nullptr);
    summary["best_" + key] = best ? best->value(key, nlohmann::json(nullptr)) : nlohmann::json(nullptr);
  }
  return summary;
}

// checkpoints/<file>: the trainer's state, the next epoch, the config hash, the world size and the
// metrics so far, written to a temporary file and renamed, so a crash never leaves a corrupt
// checkpoint. Every rank calls it (the trainer gathers what differs between ranks); the rank with
// the run directory, rank 0, writes.
void write_checkpoint(const std::optional<RunDirectory>& dir, const std::string& file, Trainer& trainer,
                      int64_t next_epoch, const std::string& config_hash, const std::vector<nlohmann::json>& records) {
  torch::serialize::OutputArchive archive, state;
  trainer.save(state);
  if (!dir) return;
  std::string metrics;
  for (const auto& r : records) metrics += r.dump() + "\n";
  archive.write("trainer", state);
  archive.write("world_size", torch::tensor(static_cast<int64_t>(trainer.replicas().world_size()), torch::kLong));
  archive.write("next_epoch", torch::tensor(next_epoch, torch::kLong));
  archive.write("config_hash", c10::IValue(config_hash));
  archive.write("metrics", c10::IValue(metrics));
  const std::string bytes = seal_archive(archive);
  // The previous last.pt stays as last.prev.pt (a hard link: no copy), so that a damaged last.pt
  // still leaves a checkpoint to resume from; each file is replaced by a rename, never half written.
  const fs::path previous = dir->path() / "checkpoints" / file;
  if (file == "last.pt" && fs::exists(previous)) {
    const fs::path link = dir->path() / "checkpoints" / "last.prev.pt.tmp";
    std::error_code error;
    fs::remove(link, error);
    if (!error) fs::create_hard_link(previous, link, error);
    if (!error) fs::rename(link, dir->path() / "checkpoints" / "last.prev.pt", error);
    ESRUN_CHECK(!error, "cannot keep '", previous.string(), "' as last.prev.pt: ", error.message());
  }
  dir->write_atomic("checkpoints/" + file, bytes);
}

// What a resumed run reads from its checkpoint.
struct Checkpoint {
  int64_t next_epoch = 0;
  std::vector<nlohmann::json> records;
  int64_t world_size = 1;
  torch::serialize::InputArchive trainer;
};

Checkpoint read_checkpoint(const fs::path& file) {
  Checkpoint checkpoint;
  torch::serialize::InputArchive archive = open_sealed_archive(file.string(), "the checkpoint");
  torch::Tensor next_epoch;
  archive.read("next_epoch", next_epoch);
  checkpoint.next_epoch = next_epoch.item<int64_t>();
  c10::IValue metrics;
  archive.read("metrics", metrics);
  std::istringstream lines(metrics.toStringRef());
  for (std::string line; std::getline(lines, line);) checkpoint.records.push_back(nlohmann::json::parse(line));
  archive.read("trainer", checkpoint.trainer);
  torch::Tensor saved_world = torch::tensor(int64_t{1});
  archive.try_read("world_size", saved_world);  // checkpoints before issue 16: one process
  checkpoint.world_size = saved_world.item<int64_t>();
  return checkpoint;
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

// Processes started by torchrun, Slurm or scripts/launch meet before anything is read or written,
// and refuse to go on unless they all run the same config. Each takes its GPU by local rank.
std::shared_ptr<ProcessGroup> join_ranks(const RunConfig& config, torch::Device& device) {
  const LaunchEnvironment launch = launch_environment();
  if (!launch.distributed()) return nullptr;
  // device: cuda or auto takes the GPU of the local rank; cuda:N is as given (processes may share it).
  if (device.is_cuda() && config.device.rfind("cuda:", 0) != 0) device = local_gpu(launch.local_rank);
  const std::string backend =
      config.distributed.backend != "auto" ? config.distributed.backend : (device.is_cuda() ? "nccl" : "gloo");
  const std::string where = config.resolved.where("distributed.backend");
  ESRUN_CHECK(backend != "nccl" || ProcessGroup::has_nccl(), where, ": nccl is not in this esrun's libtorch (NCCL "
              "comes with the PyTorch/CUDA flavour, scripts/setup.sh with ESRUN_FLAVOUR=pytorch); use gloo or auto");
  ESRUN_CHECK(backend != "nccl" || device.is_cuda(), where, ": nccl needs CUDA tensors, but the run's device is ",
              device.str(), "; use gloo or auto");
  std::shared_ptr<ProcessGroup> group = ProcessGroup::connect(
      launch, backend, std::chrono::milliseconds(static_cast<int64_t>(config.distributed.timeout_s * 1000)), device);
  group->require_same("the resolved config (its hash)", config.resolved.hash(), "every rank must run the same config");
  if (launch.rank != 0) {
    spdlog::set_level(spdlog::level::warn);  // rank 0 reports the run; the others only their trouble
    spdlog::set_pattern(fmt::format("[rank {}] %^%l%$: %v", launch.rank));
  }
  spdlog::info("distributed: {} ranks ({} launch, {}), rank 0 writes the run directory", launch.world_size,
               launch.source, backend);
  return group;
}

// Non-zero ranks train with the tokenizer rank 0 trained at start (or the run being resumed
// has): rank 0 sends its bytes through the store, and each rank loads them from a file of its own.
std::optional<std::filesystem::path> share_tokenizer(ProcessGroup& group, const std::optional<RunDirectory>& dir) {
  std::string bytes;
  if (dir && std::filesystem::exists(dir->path() / "tokenizer.model")) bytes = read_file(dir->path() / "tokenizer.model");
  const std::string shared = group.exchange("tokenizer", bytes)[0];
  if (group.rank() == 0 || shared.empty()) return std::nullopt;
  const auto file = std::filesystem::temp_directory_path() /
                    fmt::format("esrun-tokenizer-{}-rank{}.model", ::getpid(), group.rank());
  write_file_atomic(file, shared);
  return file;
}

}  // namespace

RunResult run(const RunRequest& request) {
  const auto wall_start = std::chrono::steady_clock::now();
  RunConfig config = load_config(request);
  check_environment(config, /*scores=*/!request.stage);  // a stage's run trains with its own policy
  torch::Device device = resolve_device(config.device, config.resolved.where("device"));
  const int threads = configure_threads(static_cast<int>(config.threads));
  const std::shared_ptr<ProcessGroup> group = join_ranks(config, device);
  const int world = group ? group->world_size() : 1;
  const bool writes = !group || group->rank() == 0;
  if (!writes) config.progress.mode = "off";

  // A resumed run reads its checkpoint before anything is written.
  std::vector<nlohmann::json> records;
  int64_t first_epoch = 0;
  torch::serialize::InputArchive resumed_state;
  if (request.resume) {
    check_resumable(config.resolved, *request.resume);
    Checkpoint checkpoint = read_last_checkpoint(*request.resume);
    first_epoch = checkpoint.next_epoch;
    records = std::move(checkpoint.records);
    resumed_state = std::move(checkpoint.trainer);
    ESRUN_CHECK(checkpoint.world_size == world, "--resume ", *request.resume, ": the run was checkpointed by ",
                checkpoint.world_size, " process(es), and this one has ", world, "; resume it with ",
                checkpoint.world_size, " (the shuffled plan of an interrupted epoch, the dropout streams and "
                "the BatchNorm statistics are per rank)");
  }
  // A fresh run writes its config first; a resumed one changes nothing in its run directory until
  // its data, model and checkpoint have loaded, so a resume that fails leaves the run as it was.
  std::optional<RunDirectory> dir;
  if (writes) {
    dir = request.resume ? RunDirectory::resume(request.out.value_or(*request.resume))
                         : RunDirectory::create(config.out_root, config.name, config.seed, request.out);
    if (!request.resume) dir->write_atomic("config.resolved.yaml", config.resolved.to_yaml(/*notes=*/true));
    spdlog::info("run directory {}{}", dir->path().string(),
                 request.resume ? fmt::format(" (resumed at epoch {})", first_epoch + 1) : std::string());
  }

  // A tokenizer trained at start is saved in the run directory, and a resumed run reads its own.
  if (dir) config.data.artifacts_dir = dir->path().string();
  if (request.resume) config.data.resume_dir = *request.resume;
  // Rank 0 loads first: a tokenizer it trains at start (or the resumed run's) reaches the other
  // ranks before they load (within distributed.timeout_s).
  std::optional<Dataset> loaded;
  if (writes) loaded = load_dataset(config);
  const auto tokenizer = group ? share_tokenizer(*group, dir) : std::nullopt;
  if (tokenizer) config.data.tokenizer.model = tokenizer->string();
  if (!loaded) loaded = load_dataset(config);
  if (tokenizer) std::filesystem::remove(*tokenizer);
  Dataset data = std::move(*loaded);
  spdlog::info("{}: {} train / {} test samples, {}{}{}", data.name, data.train.size(), data.test.size(), data.task,
               data.num_classes > 0 ? fmt::format(", {} classes", data.num_classes) : std::string(),
               config.data.label_noise.kind == NoiseKind::None
                   ? std::string()
                   : fmt::format(", {} noise on {} labels", to_string(config.data.label_noise.kind),
                                 data.noisy_mask.sum().item<int64_t>()));
  Trainer trainer(config, std::move(data), device, group, request.stage ? request.stage->policy : PolicyFactory{});
  // A stage's run ends after its epochs; a plain run trains the policy's.
  const int64_t until = request.stage ? std::min(request.stage->epochs, trainer.epochs()) : trainer.epochs();
  if (request.stage && request.stage->start) request.stage->start(trainer);
  if (request.resume) {
    const std::string last = (fs::path(*request.resume) / "checkpoints" / "last.pt").string();
    try {
      trainer.load(resumed_state);
    } catch (const Error& e) {
      ESRUN_FAIL("--resume ", *request.resume, ": '", last, "' does not fit this run: ", e.what());
    } catch (const std::exception& e) {  // libtorch's, for state of another model, optimizer or policy
      ESRUN_FAIL("--resume ", *request.resume, ": '", last, "' does not fit this run (", libtorch_reason(e),
                 "): was it copied from another run?");
    }
    if (dir) {
      std::string metrics_so_far;
      for (const auto& r : records) metrics_so_far += r.dump() + "\n";
      dir->continue_metrics(metrics_so_far);
      dir->write_atomic("config.resolved.yaml", config.resolved.to_yaml(/*notes=*/true));
    }
  }
  spdlog::info("{} on {} ({} threads), sampler {}, B={}, b={}", config.model.name, device.str(), threads,
               config.sampler.name, config.sampler.meta_batch, config.sampler.resolved_mini_batch);

  const std::string hash = config.resolved.hash();
  std::optional<double> best_score;
  for (const auto& r : records)
    if (r.contains("test_score") && !r["test_score"].is_null()) best_score = std::max(best_score.value_or(r["test_score"].get<double>()), r["test_score"].get<double>());
  ProgressReporter progress(progress_mode(config.progress.mode), config.progress.every);
  std::optional<TensorBoardLog> board;
  if (dir && config.logging.tensorboard)
    board.emplace(dir->path(), config.logging.tensorboard_steps, records, request.resume.has_value());
  int64_t epochs_this_run = 0, steps_this_run = 0;
  FitHooks hooks;
  hooks.on_step = [&](const StepProgress& step) {
    ++steps_this_run;
    progress.step(step);
    if (board) board->step(step);
  };
  // A signal to any rank stops them all at the same step (the signal is the run's stop code).
  int stopped_by = 0;
  hooks.stop_requested = [&] {
    const auto agreed = trainer.replicas().max(
        {stop_signal(), request.stop_after_steps && steps_this_run >= *request.stop_after_steps ? 1 : 0});
    stopped_by = static_cast<int>(agreed[0]);
    return agreed[0] != 0 || agreed[1] != 0;
  };
  hooks.on_epoch = [&](const EpochRecord& record) {
    progress.epoch_done(record.time.epoch_total);
    const auto json = to_json(record);
    if (dir) dir->append_metrics(json);
    if (board) board->epoch(json);
    records.push_back(json);
    const double busy = record.time.epoch_total - record.time.eval;
    const double rate = busy > 0 ? static_cast<double>(record.samples_backward + record.samples_forward) / busy : 0.0;
    spdlog::info(format_record(record, trainer.task(), until, rate));
    const bool last = record.epoch + 1 == until;
    const bool stopping =
        !last && ((request.stop_after && ++epochs_this_run >= *request.stop_after) || hooks.stop_requested());
    const int64_t every = config.checkpoint.every;
    if (last || stopping || (every > 0 && (record.epoch + 1) % every == 0))
      write_checkpoint(dir, "last.pt", trainer, record.epoch + 1, hash, records);
    // Rank 0's view decides (every rank must take part in the checkpoint's collectives alike).
    const bool best = config.checkpoint.best && record.evaluated && (!best_score || record.test.score > *best_score);
    if (trainer.replicas().max({best && writes ? 1 : 0})[0] != 0)
      write_checkpoint(dir, "best.pt", trainer, record.epoch + 1, hash, records);
    if (record.evaluated) best_score = std::max(best_score.value_or(record.test.score), record.test.score);
    return !stopping && !last;
  };
  const std::filesystem::path run_dir = dir ? dir->path() : std::filesystem::path();
  // A stage that trains no epoch still leaves a checkpoint, so that it resumes like any run.
  if (first_epoch >= until && !request.resume) write_checkpoint(dir, "last.pt", trainer, first_epoch, hash, records);
  // fit() reports a stop when on_epoch ends a stage's training before the policy's last epoch.
  const bool finished = first_epoch >= until || trainer.fit(first_epoch, hooks) ||
                        (!trainer.open_epoch() && static_cast<int64_t>(records.size()) >= until);
  if (!finished) {
    progress.clear();
    const auto open = trainer.open_epoch();
    if (open) write_checkpoint(dir, "last.pt", trainer, *open, hash, records);
    if (group) group->finish();
    const std::string where = open ? fmt::format("in epoch {}", *open + 1) : fmt::format("after epoch {}", records.size());
    if (stopped_by != 0) spdlog::warn("stopped by {} {}; checkpoint written", signal_name(stopped_by), where);
    else spdlog::info("stopped {}", where);
    spdlog::info("continue with: {}esrun --resume {}", group ? fmt::format("{} ranks of ", world) : std::string(),
                 run_dir.string());
    return RunResult{run_dir, {}, false, stopped_by};
  }
  if (group) group->finish();
  if (!dir) return RunResult{run_dir, {}, true};

  nlohmann::json summary = summarise(records);
  summary.update({
      {"name", config.name},
      {"seed", config.seed},
      {"epochs", until},
      {"wall_time_s", std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count()},
      {"config_hash", hash},
      {"device", device.str()},
      {"threads", threads},
      {"world_size", world},
      {"metric", trainer.task().headline_metric()},
      // The scoring run behind a scores file (static pruning, RHO-LOSS's irreducible-loss model).
      {"extra_cost_s", trainer.policy().extra_cost_s()},
  });
  // A stage's run trains with the stage's policy, not the configured sampler's.
  if (!request.stage) summary["sampler"] = sampler_settings(config);
  summary.update(to_json(build_info()));
  dir->write_atomic("summary.json", summary.dump(2) + "\n");
  if (request.stage && request.stage->finish) request.stage->finish(trainer, summary);
  const std::string headline = trainer.task().headline_metric();
  const auto shown = [&](const std::string& kind) {
    const auto& v = summary[kind + "_test_" + headline];
    return v.is_null() ? std::string("n/a") : trainer.task().format_headline(v.get<double>());
  };
  spdlog::info("done: final test {} {}, best {} (epoch {}), train time {:.1f}s -> {}", headline, shown("final"),
               shown("best"), summary["best_epoch"].get<int64_t>() + 1,
               summary["train_time_s"].get<double>(), run_dir.string());
  return RunResult{run_dir, summary, true};
}

std::string list_registered(const std::string& kind) {
  const std::vector<std::pair<std::string, const RegistryView*>> all = {
      {"models", &models()}, {"datasets", &datasets()}, {"tasks", &tasks()}, {"samplers", &samplers()},
      {"scorers", &scorers()}, {"optimizers", &optimizers()}, {"schedules", &schedules()}};
  std::ostringstream out;
  bool found = false;
  for (const auto& [name, registry] : all) {
    if (!kind.empty() && kind != name) continue;
    found = true;
    out << name << ":\n";
    for (const auto& entry : registry->entries())
      out << "  " << std::left << std::setw(18) << entry.name << " " << entry.help << "\n";
  }
  ESRUN_CHECK(found, "unknown list '", kind, "'; known: models, datasets, tasks, samplers, scorers, optimizers, schedules");
  return out.str();
}

}  // namespace esrun
