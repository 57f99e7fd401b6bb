#include "esrun/commands/score.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "esrun/commands/resume.h"
#include "esrun/core/build_info.h"
#include "esrun/core/distributed.h"
#include "esrun/core/error.h"
#include "esrun/core/files.h"
#include "esrun/core/scores_file.h"
#include "esrun/core/sealed_archive.h"
#include "esrun/core/stop.h"
#include "esrun/data/dataset.h"
#include "esrun/scoring/scorer.h"
#include "esrun/train/trainer.h"

namespace esrun {
namespace {

namespace fs = std::filesystem;

// The scoring model's policy: uniform epochs over the part's training rows, every step's
// observation handed to the method (forgetting counts them), its counts kept in checkpoints.
class ScoringPolicy final : public SelectionPolicy {
 public:
  ScoringPolicy(const PolicyContext& context, Scorer& scorer, const torch::Tensor& rows)
      : SelectionPolicy(context),
        scorer_(scorer),
        rows_(rows.defined() ? rows.to(context.device) : torch::arange(context.train_size, torch::TensorOptions(torch::kLong).device(context.device))) {
    scorer_.start(context.train_size, context.device);
  }

  EpochPlan plan_epoch(int64_t /*epoch*/) override { return EpochPlan{rows_, {}}; }
  void observe(const Observation& observation) override { scorer_.observe(observation); }

 private:
  void save_state(torch::serialize::OutputArchive& archive) const override { scorer_.save(archive); }
  void load_state(torch::serialize::InputArchive& archive) override { scorer_.load(archive); }

  Scorer& scorer_;
  torch::Tensor rows_;
};

// score.checkpoint: the model weights of a run's checkpoint, into the trainer's model.
void load_checkpoint_model(Trainer& trainer, const std::string& file, const std::string& where) {
  ESRUN_CHECK(fs::is_regular_file(file), where, ": checkpoint '", file, "' does not exist");
  torch::serialize::InputArchive archive;
  try {
    archive = open_sealed_archive(file, "the checkpoint", trainer.model().parameters().front().device());
  } catch (const Error& e) {
    ESRUN_FAIL(where, ": ", e.what());
  }
  try {
    torch::serialize::InputArchive state, model;
    archive.read("trainer", state);
    state.read("model", model);
    trainer.model().load(model);
  } catch (const c10::Error& e) {
    ESRUN_FAIL(where, ": '", file, "' holds no model of this config (", std::string(e.what_without_backtrace()), ")");
  }
}

// Whether `folder` holds a scoring that finished, or began a part's run (checkpoints/last.pt) or scores.
bool scoring_started(const fs::path& folder) {
  if (!fs::is_directory(folder)) return false;
  try {
    if (nlohmann::json::parse(read_file(folder / "score.json")).value("done", false)) return true;
  } catch (const std::exception&) {  // none, or unreadable: look at the parts
  }
  for (const auto& entry : fs::directory_iterator(folder)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("part-", 0) == 0 && (entry.path().extension() == ".pt" || fs::exists(entry.path() / "checkpoints" / "last.pt")))
      return true;
  }
  return false;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}


// One `esrun score`, step by step: its folder (new, or the one resumed), its plan (method, parts,
// epochs), each part's scoring run and scores, and the averaged scores file.
class Scoring {
 public:
  explicit Scoring(const ScoreRequest& request) : request_(request) {}

  ScoreResult run() {
    open_resumed_folder();
    config_ = load_config(request_.run);
    open_folder();
    plan();
    auto sum = torch::zeros({n_}, torch::kDouble), count = torch::zeros({n_}, torch::kDouble);
    for (size_t i = 0; i < parts_.size(); ++i) {
      if (!fs::exists(part_file(i)) && !score_part(i)) {
        save_state(false);
        spdlog::warn("scoring stopped{}; continue with: esrun score --resume {}",
                     stop_signal() != 0 ? std::string(" by ") + signal_name(stop_signal()) : std::string(), folder_.string());
        return ScoreResult{out_, folder_, false, stopped_by_ != 0 ? stopped_by_ : stop_signal()};
      }
      add_part(i, sum, count);
    }
    write_file(sum, count);
    return ScoreResult{out_, folder_, true, 0};
  }

 private:
  fs::path part_file(size_t i) const { return folder_ / fmt::format("part-{}.pt", i); }

  // --resume FOLDER: the scoring's score.json names its scores file and the time spent so far.
  void open_resumed_folder() {
    ESRUN_CHECK(!launch_environment().distributed(), "esrun score runs in one process; start it without torchrun, "
                "srun or scripts/launch (its runs train one scoring model at a time)");
    if (!request_.run.resume) return;
    folder_ = *request_.run.resume;
    ESRUN_CHECK(fs::is_regular_file(folder_ / "score.json"), "--resume ", folder_.string(),
                ": not a scoring folder of esrun score (no score.json)");
    try {
      saved_ = nlohmann::json::parse(read_file(folder_ / "score.json"));
      out_ = request_.out.value_or(saved_.at("out").get<std::string>());
      wall_before_ = saved_.value("wall_time_s", 0.0);
    } catch (const nlohmann::json::exception& e) {
      ESRUN_FAIL("--resume ", folder_.string(), ": unreadable score.json (", e.what(), ")");
    }
  }

  // A new scoring's folder is <scores file without extension>-runs/.
  void open_folder() {
    if (request_.run.resume) return check_resumable(config_.resolved, folder_.string());
    ESRUN_CHECK(request_.out || config_.score.out, config_.resolved.where("score.out"),
                ": esrun score needs the scores file to write: --out FILE or score.out");
    out_ = fs::absolute(request_.out.value_or(config_.score.out.value_or(""))).string();
    const fs::path file(out_);
    folder_ = file.parent_path() / (file.stem().string() + "-runs");
    // A scoring that never trained a part (it failed its checks) may start afresh; one that did
    // continues with --resume, so that no part of another config is ever averaged in.
    ESRUN_CHECK(!scoring_started(folder_), "esrun score: '", folder_.string(), "' holds an earlier scoring of '", out_,
                "'; continue it with esrun score --resume ", folder_.string(), ", or remove that folder");
  }

  ScorerContext context_of(uint64_t seed) const {
    const RunConfig* config = &config_;
    return ScorerContext{method_, config, [config](const std::string& key) { return config->resolved.where(key); }, seed};
  }

  // The method, its checks, its parts and the epochs each part's model trains.
  void plan() {
    where_ = config_.resolved.where("score.method");
    ESRUN_CHECK(config_.score.method.has_value(), where_, ": esrun score needs a method: --method M or score.method "
                "(esrun list scorers)");
    method_ = *config_.score.method;
    check_environment(config_, /*scores=*/false);  // the file the sampler reads may be the one written here
    scorer_ = scorers().create(method_, where_, context_of(config_.seed));
    const auto& checkpoint = config_.score.checkpoint;
    const std::string checkpoint_where = config_.resolved.where("score.checkpoint");
    ESRUN_CHECK(!checkpoint || !scorer_->counts_training(), checkpoint_where, ": ", method_, " counts events during the "
                "scoring model's training, so a checkpoint cannot stand in for it; leave score.checkpoint null");
    ESRUN_CHECK(!checkpoint || config_.score.repeats == 1, checkpoint_where, ": one checkpoint is one model, but "
                "score.repeats is ", config_.score.repeats, "; set it to 1");
    n_ = load_dataset(config_).train.size();
    parts_ = scorer_->parts(n_);
    epochs_ = checkpoint || !scorer_->trains() ? 0 : config_.score.epoch.value_or(scorer_->default_epoch(config_.train.epochs));
    // A resumed scoring finishes its parts alike: their count and epochs may not change.
    plan_ = {{"parts", parts_.size()}, {"epoch", epochs_}, {"train_epochs", config_.train.epochs}};
    ESRUN_CHECK(saved_.is_null() || saved_.value("plan", plan_) == plan_, "--resume ", folder_.string(), ": the scoring "
                "began with ", saved_.value("plan", plan_).dump(), " and would now continue with ", plan_.dump(),
                "; keep train.epochs, score.epoch and score.repeats as they were");
    fs::create_directories(folder_);
    write_file_atomic(folder_ / "config.resolved.yaml", config_.resolved.to_yaml(/*notes=*/true));
    save_state(false);
    spdlog::info("esrun score: {} over {} training samples, {} scoring model(s) of {} epoch(s) -> {}", method_, n_,
                 parts_.size(), epochs_, out_);
  }

  void save_state(bool done) const {
    write_file_atomic(folder_ / "score.json",
                      nlohmann::json{{"out", out_}, {"method", method_}, {"done", done}, {"plan", plan_},
                                     {"wall_time_s", wall_before_ + seconds_since(wall_start_)}}
                              .dump(2) + "\n");
  }

  // Part i's scoring run (resumed from its checkpoint when it has one) and its scores in
  // part-<i>.pt; false when a signal stopped it.
  bool score_part(size_t i) {
    const ScoringPart& part = parts_[i];
    const fs::path part_dir = folder_ / fmt::format("part-{}", i);
    const uint64_t seed = config_.seed + static_cast<uint64_t>(part.repeat);
    if (i > 0 || parts_.size() > 1) spdlog::info("scoring model {}/{} (seed {})", i + 1, parts_.size(), seed);
    const ScorerContext context = context_of(seed);
    scorer_ = scorers().create(method_, where_, context);
    RunRequest run;
    if (fs::exists(part_dir / "checkpoints" / "last.pt")) {
      run.resume = part_dir.string();
      run.sets = request_.run.sets;
    } else {
      // The repeats vary the model's seed; the data (subset, noise, holdout) stays the first's.
      const int64_t data_seed = config_.resolved.get_optional_int("data.seed").value_or(static_cast<int64_t>(config_.seed));
      run.configs = {(folder_ / "config.resolved.yaml").string()};
      run.sets = {fmt::format("seed={}", seed), fmt::format("data.seed={}", data_seed)};
      run.out = part_dir.string();
    }
    run.stop_after = request_.run.stop_after;
    run.stop_after_steps = request_.run.stop_after_steps;
    RunStage stage;
    stage.epochs = epochs_;
    stage.start = [&](Trainer& trainer) { check_needs(trainer, scorer_->needs(), context); };
    bool stopped = false;  // by a signal while scoring
    stage.policy = [&](const PolicyContext& c) { return std::make_unique<ScoringPolicy>(c, *scorer_, part.train_rows); };
    stage.finish = [&](Trainer& trainer, const nlohmann::json& summary) {
      stopped = !write_part(i, trainer, summary);
    };
    run.stage = std::move(stage);
    const RunResult result = esrun::run(run);
    stopped_by_ = result.stop_signal;
    return result.finished && !stopped && stop_signal() == 0;
  }

  // The trained model's scores of part i's rows into part-<i>.pt; false when a signal stopped it.
  bool write_part(size_t i, Trainer& trainer, const nlohmann::json& summary) {
    const ScoringPart& part = parts_[i];
    const auto start = std::chrono::steady_clock::now();
    if (config_.score.checkpoint)
      load_checkpoint_model(trainer, *config_.score.checkpoint, config_.resolved.where("score.checkpoint"));
    const auto rows = part.scored_rows.defined() ? part.scored_rows : torch::arange(n_, torch::kLong);
    auto scores = scorer_->score(trainer, rows);
    if (!scores.defined()) return false;
    scores = scores.to(torch::kCPU, torch::kDouble);
    ESRUN_INTERNAL_CHECK(scores.sizes() == rows.sizes(), method_, " scored ", scores.numel(), " of ", rows.numel(), " rows");
    auto full = torch::zeros({n_}, torch::kDouble), scored = torch::zeros({n_}, torch::kBool);
    full.index_put_({rows}, scores);
    scored.index_put_({rows}, true);
    torch::serialize::OutputArchive archive;
    archive.write("scores", full);
    archive.write("scored", scored);
    const nlohmann::json meta = {{"train_time_s", summary.value("train_time_s", 0.0)},
                                 {"score_time_s", seconds_since(start)},
                                 {"data", to_json(identify(trainer.data()))}};
    archive.write("meta", c10::IValue(meta.dump()));
    write_file_atomic(part_file(i), seal_archive(archive));
    return true;
  }

  // Part i's scores added to the sums of the rows it scored.
  void add_part(size_t i, torch::Tensor& sum, torch::Tensor& count) {
    torch::Tensor scores, scored;
    nlohmann::json meta;
    try {
      torch::serialize::InputArchive archive = open_sealed_archive(part_file(i).string(), "the scores of a part");
      c10::IValue meta_text;
      archive.read("scores", scores);
      archive.read("scored", scored);
      archive.read("meta", meta_text);
      meta = nlohmann::json::parse(meta_text.toStringRef());
    } catch (const std::exception& e) {
      ESRUN_FAIL("'", part_file(i).string(), "' is unreadable (", e.what(), "); remove it to score that part again");
    }
    sum += scores.where(scored, torch::zeros_like(scores));
    count += scored.to(torch::kDouble);
    train_seconds_ += meta.value("train_time_s", 0.0);
    score_seconds_ += meta.value("score_time_s", 0.0);
    data_ = meta.at("data");
  }

  // The scores file: the mean of the parts' scores per row; rows no part scored are excluded.
  void write_file(const torch::Tensor& sum, const torch::Tensor& count) {
    ScoresFile file;
    file.excluded = count == 0;
    file.scores = torch::where(file.excluded, torch::zeros_like(sum), sum / count.clamp_min(1.0));
    const auto bad = torch::nonzero(~torch::isfinite(file.scores)).flatten();
    ESRUN_CHECK(bad.numel() == 0, method_, " gave ", bad.numel(), " non-finite scores (the first at row ",
                bad.numel() > 0 ? bad[0].item<int64_t>() : 0, "); the scoring model diverged? see ", folder_.string());
    const double wall = wall_before_ + seconds_since(wall_start_);
    const auto& checkpoint = config_.score.checkpoint;
    file.meta = {{"method", method_},
                 {"data", data_},
                 {"config_hash", config_.resolved.hash()},
                 {"epoch", epochs_},
                 {"epochs", config_.train.epochs},
                 {"repeats", config_.score.repeats},
                 {"parts", parts_.size()},
                 {"checkpoint", checkpoint ? nlohmann::json(*checkpoint) : nlohmann::json(nullptr)},
                 {"holdout_fraction", method_ == "irreducible_loss" ? nlohmann::json(config_.score.holdout_fraction)
                                                                   : nlohmann::json(nullptr)},
                 {"excluded", file.excluded.sum().item<int64_t>()},
                 {"train_time_s", train_seconds_},
                 {"score_time_s", score_seconds_},
                 {"wall_time_s", wall},
                 {"model", config_.model.name},
                 {"esrun_version", build_info().esrun_version}};
    write_scores(out_, file);
    save_state(true);
    const auto kept = file.scores.masked_select(~file.excluded);
    spdlog::info("scores of {} samples ({} excluded) written to {}: mean {:.4g}, min {:.4g}, max {:.4g}; cost {:.1f}s "
                 "(training {:.1f}s, scoring {:.1f}s)", kept.numel(), file.meta["excluded"].get<int64_t>(), out_,
                 kept.numel() ? kept.mean().item<double>() : 0.0, kept.numel() ? kept.min().item<double>() : 0.0,
                 kept.numel() ? kept.max().item<double>() : 0.0, wall, train_seconds_, score_seconds_);
  }

  const ScoreRequest& request_;
  const std::chrono::steady_clock::time_point wall_start_ = std::chrono::steady_clock::now();
  RunConfig config_;
  fs::path folder_;
  std::string out_, method_, where_;
  double wall_before_ = 0;
  nlohmann::json saved_, plan_, data_;  // saved_: score.json of the scoring being resumed
  std::unique_ptr<Scorer> scorer_;
  std::vector<ScoringPart> parts_;
  int64_t n_ = 0, epochs_ = 0;
  double train_seconds_ = 0, score_seconds_ = 0;
  int stopped_by_ = 0;
};

}  // namespace

ScoreResult score(const ScoreRequest& request) { return Scoring(request).run(); }

}  // namespace esrun
