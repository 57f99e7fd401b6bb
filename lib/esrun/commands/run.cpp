// `esrun run`: a short sequence of named steps. Set up (config, device, ranks); read the checkpoint
// to resume from; open the run directory; load the data; build the trainer and restore its state;
// train, asking the checkpoint schedule after each epoch; then summarise, or checkpoint and stop.
#include "esrun/commands/run.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "esrun/commands/checkpoint_files.h"
#include "esrun/commands/checkpoint_schedule.h"
#include "esrun/commands/launch.h"
#include "esrun/commands/resume.h"
#include "esrun/commands/summary.h"
#include "esrun/core/build_info.h"
#include "esrun/core/device.h"
#include "esrun/core/error.h"
#include "esrun/core/stop.h"
#include "esrun/data/dataset.h"
#include "esrun/metrics/progress.h"
#include "esrun/metrics/run_directory.h"
#include "esrun/metrics/tensorboard_log.h"
#include "esrun/train/trainer.h"

namespace esrun {

RunConfig load_config(const RunRequest& request) {
  std::vector<std::string> files = request.configs;
  if (request.resume) files.insert(files.begin(), (std::filesystem::path(*request.resume) / "config.resolved.yaml").string());
  return load_run_config(resolve_config(files, request.sets));
}

namespace {

namespace fs = std::filesystem;

// Where and how the run runs.
struct Setup {
  RunConfig config;
  torch::Device device = torch::kCPU;
  int threads = 0;
  std::shared_ptr<ProcessGroup> group = nullptr;  // null: one process
  int world = 1;
  bool writes = true;  // this rank writes the run directory (rank 0)
};

Setup set_up(const RunRequest& request) {
  Setup s{load_config(request)};
  check_environment(s.config, /*scores=*/!request.stage);  // a stage's run trains with its own policy
  s.device = resolve_device(s.config.device, s.config.resolved.where("device"));
  s.threads = configure_threads(static_cast<int>(s.config.threads));
  s.group = join_ranks(s.config, s.device);
  s.world = s.group ? s.group->world_size() : 1;
  s.writes = !s.group || s.group->rank() == 0;
  if (!s.writes) s.config.progress.mode = "off";
  return s;
}

// Where a resumed run continues: read before anything is written.
struct ResumePoint {
  int64_t first_epoch = 0;
  std::vector<nlohmann::json> records, evaluations;
  torch::serialize::InputArchive state;
};

ResumePoint read_resume_point(const RunRequest& request, const Setup& setup) {
  ResumePoint point;
  if (!request.resume) return point;
  check_resumable(setup.config.resolved, *request.resume);
  Checkpoint checkpoint = read_last_checkpoint(*request.resume);
  ESRUN_CHECK(checkpoint.world_size == setup.world, "--resume ", *request.resume, ": the run was checkpointed by ",
              checkpoint.world_size, " process(es), and this one has ", setup.world, "; resume it with ",
              checkpoint.world_size, " (the shuffled plan of an interrupted epoch, the dropout streams and "
              "the BatchNorm statistics are per rank)");
  point.first_epoch = checkpoint.next_epoch;
  point.records = std::move(checkpoint.records);
  point.evaluations = std::move(checkpoint.evaluations);
  point.state = std::move(checkpoint.trainer);
  return point;
}

// A fresh run writes its config first; a resumed one changes nothing in its run directory until
// its data, model and checkpoint have loaded, so a resume that fails leaves the run as it was.
std::optional<RunDirectory> open_run_directory(const RunRequest& request, Setup& setup, int64_t first_epoch) {
  if (!setup.writes) return std::nullopt;
  const RunConfig& config = setup.config;
  std::optional<RunDirectory> dir = request.resume ? RunDirectory::resume(request.out.value_or(*request.resume))
                                                   : RunDirectory::create(config.out_root, config.name, config.seed, request.out);
  if (!request.resume) dir->write_atomic("config.resolved.yaml", config.resolved.to_yaml(/*notes=*/true));
  spdlog::info("run directory {}{}", dir->path().string(),
               request.resume ? fmt::format(" (resumed at epoch {})", first_epoch + 1) : std::string());
  // A tokenizer trained at start is saved in the run directory, and a resumed run reads its own.
  setup.config.data.artifacts_dir = dir->path().string();
  return dir;
}

// Rank 0 loads first: a tokenizer it trains at start (or the resumed run's) reaches the other ranks
// before they load (within distributed.timeout_s).
Dataset load_data(Setup& setup, const std::optional<RunDirectory>& dir, const RunRequest& request) {
  RunConfig& config = setup.config;
  if (request.resume) config.data.resume_dir = *request.resume;
  std::optional<Dataset> loaded;
  if (setup.writes) loaded = load_dataset(config);
  const auto tokenizer = setup.group ? share_tokenizer(*setup.group, dir) : std::nullopt;
  if (tokenizer) config.data.tokenizer.model = tokenizer->string();
  if (!loaded) loaded = load_dataset(config);
  if (tokenizer) fs::remove(*tokenizer);
  const Dataset& data = *loaded;
  spdlog::info("{}: {} train / {} test samples, {}{}{}", data.name, data.train.size(), data.test.size(), data.task,
               data.num_classes > 0 ? fmt::format(", {} classes", data.num_classes) : std::string(),
               config.data.label_noise.kind == NoiseKind::None
                   ? std::string()
                   : fmt::format(", {} noise on {} labels", to_string(config.data.label_noise.kind),
                                 data.noisy_mask.sum().item<int64_t>()));
  return std::move(*loaded);
}

// A resumed run's trainer state, and its run directory's metrics and config brought up to date.
void resume_trainer(Trainer& trainer, ResumePoint& point, std::optional<RunDirectory>& dir,
                    const RunRequest& request, const RunConfig& config) {
  if (!request.resume) return;
  restore(trainer, point.state, *request.resume);
  if (!dir) return;
  dir->continue_metrics(point.records, point.evaluations);
  dir->write_atomic("config.resolved.yaml", config.resolved.to_yaml(/*notes=*/true));
}

// What the run shows and writes of each step, evaluation and epoch: the progress line,
// evaluations.jsonl, metrics.jsonl, TensorBoard and the epoch's log line.
class Reporter {
 public:
  Reporter(const Setup& setup, std::optional<RunDirectory>& dir, const RunRequest& request, ResumePoint& point)
      : dir_(dir),
        progress_(progress_mode(setup.config.progress.mode), setup.config.progress.every),
        records_(point.records),
        evaluations_(point.evaluations) {
    if (dir && setup.config.logging.tensorboard)
      board_.emplace(dir->path(), setup.config.logging.tensorboard_steps, records_, request.resume.has_value());
  }
  void step(const StepProgress& step) {
    progress_.step(step);
    if (board_) board_->step(step);
  }
  void evaluation(const EvaluationPoint& point) {
    const auto json = to_json(point);
    if (dir_) dir_->append_evaluation(json);
    evaluations_.push_back(json);
  }
  void epoch(const EpochRecord& record, const Task& task, int64_t epochs) {
    progress_.epoch_done(record.time.epoch_total);
    const auto json = to_json(record);
    if (dir_) dir_->append_metrics(json);
    if (board_) board_->epoch(json);
    records_.push_back(json);
    const double busy = record.time.epoch_total - record.time.eval;
    const double rate = busy > 0 ? static_cast<double>(record.samples_backward + record.samples_forward) / busy : 0.0;
    spdlog::info(format_record(record, task, epochs, rate));
  }
  void clear() { progress_.clear(); }
  const std::vector<nlohmann::json>& records() const { return records_; }
  const std::vector<nlohmann::json>& evaluations() const { return evaluations_; }

 private:
  std::optional<RunDirectory>& dir_;
  ProgressReporter progress_;
  std::optional<TensorBoardLog> board_;
  std::vector<nlohmann::json>& records_;
  std::vector<nlohmann::json>& evaluations_;
};

// A run stopped before its end: the open epoch checkpointed, and how to continue.
RunResult stopped(Trainer& trainer, const Setup& setup, const std::optional<RunDirectory>& dir, Reporter& reporter,
                  const CheckpointSchedule& schedule) {
  reporter.clear();
  const auto open = trainer.open_epoch();
  if (open)
    write_checkpoint(dir, "last.pt", trainer, *open, setup.config.resolved.hash(), reporter.records(), reporter.evaluations());
  if (setup.group) setup.group->finish();
  const std::string where =
      open ? fmt::format("in epoch {}", *open + 1) : fmt::format("after epoch {}", reporter.records().size());
  if (schedule.stopped_by() != 0) spdlog::warn("stopped by {} {}; checkpoint written", signal_name(schedule.stopped_by()), where);
  else spdlog::info("stopped {}", where);
  const fs::path run_dir = dir ? dir->path() : fs::path();
  spdlog::info("continue with: {}esrun --resume {}", setup.group ? fmt::format("{} ranks of ", setup.world) : std::string(),
               run_dir.string());
  return RunResult{run_dir, {}, false, schedule.stopped_by()};
}

// summary.json: the last and best evaluations, totals, the budget and the time to each target, and
// where and how the run ran.
nlohmann::json write_summary(Trainer& trainer, const Setup& setup, RunDirectory& dir, const RunRequest& request,
                             const Reporter& reporter, double wall_seconds) {
  const RunConfig& config = setup.config;
  const Task& task = trainer.task();
  nlohmann::json summary = summarise(reporter.records());
  summary.update({
      {"name", config.name},
      {"seed", config.seed},
      {"epochs", reporter.records().size()},
      {"budget", budget_summary(trainer.budget(), trainer.spent())},
      // null when the run resumed from a checkpoint of an esrun that did not count it.
      {"work", trainer.work().from_start ? to_json(trainer.work()) : nlohmann::json(nullptr)},
      {"time_to_target", time_to_target(reporter.evaluations(), config.eval.targets, task.headline_metric(),
                                        task.lower_is_better())},
      {"wall_time_s", wall_seconds},
      {"config_hash", config.resolved.hash()},
      {"device", setup.device.str()},
      {"threads", setup.threads},
      {"world_size", setup.world},
      {"metric", task.headline_metric()},
      // The scoring run behind a scores file (static pruning, RHO-LOSS's irreducible-loss model).
      {"extra_cost_s", trainer.policy().extra_cost_s()},
  });
  // A stage's run trains with the stage's policy, not the configured sampler's.
  if (!request.stage) summary["sampler"] = sampler_settings(config);
  summary.update(to_json(build_info()));
  dir.write_atomic("summary.json", summary.dump(2) + "\n");
  return summary;
}

}  // namespace

RunResult run(const RunRequest& request) {
  const auto wall_start = std::chrono::steady_clock::now();
  Setup setup = set_up(request);
  ResumePoint point = read_resume_point(request, setup);
  std::optional<RunDirectory> dir = open_run_directory(request, setup, point.first_epoch);
  Dataset data = load_data(setup, dir, request);
  const RunConfig& config = setup.config;
  Trainer trainer(config, std::move(data), setup.device, setup.group,
                  request.stage ? request.stage->policy : PolicyFactory{});
  // A plain run trains until its budget is spent; a stage's ends after its epochs.
  const std::optional<int64_t> until =
      request.stage ? std::optional<int64_t>(std::min(request.stage->epochs, trainer.epochs())) : std::nullopt;
  if (request.stage && request.stage->start) request.stage->start(trainer);
  resume_trainer(trainer, point, dir, request, config);
  spdlog::info("{} on {} ({} threads), sampler {}, B={}, b={}", config.model.name, setup.device.str(), setup.threads,
               config.sampler.name, config.sampler.meta_batch, config.sampler.resolved_mini_batch);

  const std::string hash = config.resolved.hash();
  Reporter reporter(setup, dir, request, point);
  CheckpointSchedule schedule(config, request, until, trainer.replicas(), setup.writes, point.records);
  FitHooks hooks;
  hooks.on_step = [&](const StepProgress& step) {
    schedule.step_done();
    reporter.step(step);
  };
  hooks.stop_requested = [&] { return schedule.stop_requested(); };
  hooks.on_evaluation = [&](const EvaluationPoint& point) { reporter.evaluation(point); };
  hooks.on_epoch = [&](const EpochRecord& record) {
    reporter.epoch(record, trainer.task(), until.value_or(trainer.epochs()));
    const auto next = schedule.after_epoch(record);
    const auto write = [&](const char* file) {
      write_checkpoint(dir, file, trainer, record.epoch + 1, hash, reporter.records(), reporter.evaluations());
    };
    if (next.write_last) write("last.pt");
    if (next.write_best) write("best.pt");
    return next.go_on;
  };
  const bool stage_done = until && point.first_epoch >= *until;
  // A stage that trains no epoch still leaves a checkpoint, so that it resumes like any run.
  if (stage_done && !request.resume)
    write_checkpoint(dir, "last.pt", trainer, point.first_epoch, hash, reporter.records(), reporter.evaluations());
  // fit() reports a stop when on_epoch ends a stage's training before its budget's last epoch.
  const bool finished = stage_done || trainer.fit(point.first_epoch, hooks) ||
                        (until && !trainer.open_epoch() && static_cast<int64_t>(reporter.records().size()) >= *until);
  if (!finished) return stopped(trainer, setup, dir, reporter, schedule);
  if (setup.group) setup.group->finish();
  if (!dir) return RunResult{fs::path(), {}, true};

  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  const nlohmann::json summary = write_summary(trainer, setup, *dir, request, reporter, wall);
  if (request.stage && request.stage->finish) request.stage->finish(trainer, summary);
  spdlog::info(format_done(summary, trainer.task(), dir->path().string()));
  return RunResult{dir->path(), summary, true};
}

}  // namespace esrun
