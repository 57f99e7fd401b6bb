#include "esrun/scoring/score.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "esrun/core/build_info.h"
#include "esrun/core/distributed.h"
#include "esrun/core/error.h"
#include "esrun/core/files.h"
#include "esrun/core/sealed_archive.h"
#include "esrun/core/stop.h"
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

nlohmann::json to_json(const DataIdentity& data) {
  return {{"dataset", data.dataset}, {"train_size", data.train_size}, {"checksum", data.checksum}};
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

}  // namespace

ScoreResult score(const ScoreRequest& request) {
  const auto wall_start = std::chrono::steady_clock::now();
  ESRUN_CHECK(!launch_environment().distributed(), "esrun score runs in one process; start it without torchrun, "
              "srun or scripts/launch (its runs train one scoring model at a time)");
  fs::path folder;
  std::string out;
  double wall_before = 0;
  nlohmann::json saved;  // score.json of the scoring being resumed
  if (request.run.resume) {
    folder = *request.run.resume;
    ESRUN_CHECK(fs::is_regular_file(folder / "score.json"), "--resume ", folder.string(),
                ": not a scoring folder of esrun score (no score.json)");
    try {
      saved = nlohmann::json::parse(read_file(folder / "score.json"));
      out = request.out.value_or(saved.at("out").get<std::string>());
      wall_before = saved.value("wall_time_s", 0.0);
    } catch (const nlohmann::json::exception& e) {
      ESRUN_FAIL("--resume ", folder.string(), ": unreadable score.json (", e.what(), ")");
    }
  }
  RunConfig config = load_config(request.run);
  if (request.run.resume) {
    check_resumable(config.resolved, folder.string());
  } else {
    ESRUN_CHECK(request.out || config.score.out, config.resolved.where("score.out"),
                ": esrun score needs the scores file to write: --out FILE or score.out");
    out = fs::absolute(request.out.value_or(config.score.out.value_or(""))).string();
    const fs::path file(out);
    folder = file.parent_path() / (file.stem().string() + "-runs");
    // A scoring that never trained a part (it failed its checks) may start afresh; one that did
    // continues with --resume, so that no part of another config is ever averaged in.
    ESRUN_CHECK(!scoring_started(folder), "esrun score: '", folder.string(), "' holds an earlier scoring of '", out,
                "'; continue it with esrun score --resume ", folder.string(), ", or remove that folder");
  }
  const std::string where = config.resolved.where("score.method");
  ESRUN_CHECK(config.score.method.has_value(), where, ": esrun score needs a method: --method M or score.method "
              "(esrun list scorers)");
  const std::string method = *config.score.method;
  check_environment(config, /*scores=*/false);  // the file the sampler reads may be the one written here
  const KeyWhere key_where = [&config](const std::string& key) { return config.resolved.where(key); };
  const auto context_of = [&](uint64_t seed) { return ScorerContext{method, &config, key_where, seed}; };
  std::unique_ptr<Scorer> scorer = scorers().create(method, where, context_of(config.seed));
  const auto& checkpoint = config.score.checkpoint;
  const std::string checkpoint_where = config.resolved.where("score.checkpoint");
  ESRUN_CHECK(!checkpoint || !scorer->counts_training(), checkpoint_where, ": ", method, " counts events during the "
              "scoring model's training, so a checkpoint cannot stand in for it; leave score.checkpoint null");
  ESRUN_CHECK(!checkpoint || config.score.repeats == 1, checkpoint_where, ": one checkpoint is one model, but "
              "score.repeats is ", config.score.repeats, "; set it to 1");
  const int64_t n = load_dataset(config).train.size();
  const std::vector<ScoringPart> parts = scorer->parts(n);
  // The repeats vary the model's seed; the data (subset, noise, holdout) stays the first's.
  const int64_t data_seed = config.resolved.get_optional_int("data.seed").value_or(static_cast<int64_t>(config.seed));
  const int64_t epochs =
      checkpoint || !scorer->trains() ? 0 : config.score.epoch.value_or(scorer->default_epoch(config.train.epochs));
  // A resumed scoring finishes its parts alike: their count and epochs may not change.
  const nlohmann::json plan = {{"parts", parts.size()}, {"epoch", epochs}, {"train_epochs", config.train.epochs}};
  ESRUN_CHECK(saved.is_null() || saved.value("plan", plan) == plan, "--resume ", folder.string(), ": the scoring "
              "began with ", saved.value("plan", plan).dump(), " and would now continue with ", plan.dump(),
              "; keep train.epochs, score.epoch and score.repeats as they were");
  fs::create_directories(folder);
  write_file_atomic(folder / "config.resolved.yaml", config.resolved.to_yaml(/*notes=*/true));
  const auto save_state = [&](bool done) {
    write_file_atomic(folder / "score.json", nlohmann::json{{"out", out}, {"method", method}, {"done", done}, {"plan", plan},
                                                            {"wall_time_s", wall_before + seconds_since(wall_start)}}
                                                 .dump(2) + "\n");
  };
  save_state(false);
  spdlog::info("esrun score: {} over {} training samples, {} scoring model(s) of {} epoch(s) -> {}", method, n,
               parts.size(), epochs, out);

  auto sum = torch::zeros({n}, torch::kDouble), count = torch::zeros({n}, torch::kDouble);
  double train_seconds = 0, score_seconds = 0;
  nlohmann::json data;
  for (size_t i = 0; i < parts.size(); ++i) {
    const ScoringPart& part = parts[i];
    const fs::path part_dir = folder / fmt::format("part-{}", i), part_file = folder / fmt::format("part-{}.pt", i);
    if (!fs::exists(part_file)) {
      if (i > 0 || parts.size() > 1) spdlog::info("scoring model {}/{} (seed {})", i + 1, parts.size(), config.seed + part.repeat);
      const ScorerContext context = context_of(config.seed + static_cast<uint64_t>(part.repeat));
      scorer = scorers().create(method, where, context);
      RunRequest run;
      if (fs::exists(part_dir / "checkpoints" / "last.pt")) {
        run.resume = part_dir.string();
        run.sets = request.run.sets;
      } else {
        run.configs = {(folder / "config.resolved.yaml").string()};
        run.sets = {fmt::format("seed={}", config.seed + static_cast<uint64_t>(part.repeat)),
                    fmt::format("data.seed={}", data_seed)};
        run.out = part_dir.string();
      }
      run.stop_after = request.run.stop_after;
      run.stop_after_steps = request.run.stop_after_steps;
      RunStage stage;
      stage.epochs = epochs;
      stage.start = [&](Trainer& trainer) { check_needs(trainer, scorer->needs(), context); };
      bool stopped = false;  // by a signal while scoring
      stage.policy = [&](const PolicyContext& c) { return std::make_unique<ScoringPolicy>(c, *scorer, part.train_rows); };
      stage.finish = [&](Trainer& trainer, const nlohmann::json& summary) {
        const auto start = std::chrono::steady_clock::now();
        if (checkpoint) load_checkpoint_model(trainer, *checkpoint, checkpoint_where);
        const auto rows = part.scored_rows.defined() ? part.scored_rows : torch::arange(n, torch::kLong);
        auto scores = scorer->score(trainer, rows);
        if (!scores.defined()) {
          stopped = true;
          return;
        }
        scores = scores.to(torch::kCPU, torch::kDouble);
        ESRUN_CHECK(scores.sizes() == rows.sizes(), method, " scored ", scores.numel(), " of ", rows.numel(), " rows");
        auto full = torch::zeros({n}, torch::kDouble), scored = torch::zeros({n}, torch::kBool);
        full.index_put_({rows}, scores);
        scored.index_put_({rows}, true);
        torch::serialize::OutputArchive archive;
        archive.write("scores", full);
        archive.write("scored", scored);
        const nlohmann::json meta = {{"train_time_s", summary.value("train_time_s", 0.0)},
                                     {"score_time_s", seconds_since(start)},
                                     {"data", to_json(identify(trainer.data()))}};
        archive.write("meta", c10::IValue(meta.dump()));
        write_file_atomic(part_file, seal_archive(archive));
      };
      run.stage = std::move(stage);
      const RunResult result = esrun::run(run);
      if (!result.finished || stopped || stop_signal() != 0) {
        save_state(false);
        spdlog::warn("scoring stopped{}; continue with: esrun score --resume {}",
                     stop_signal() != 0 ? std::string(" by ") + signal_name(stop_signal()) : std::string(), folder.string());
        return ScoreResult{out, folder, false, result.stop_signal != 0 ? result.stop_signal : stop_signal()};
      }
    }
    torch::Tensor scores, scored;
    nlohmann::json meta;
    try {
      torch::serialize::InputArchive archive = open_sealed_archive(part_file.string(), "the scores of a part");
      c10::IValue meta_text;
      archive.read("scores", scores);
      archive.read("scored", scored);
      archive.read("meta", meta_text);
      meta = nlohmann::json::parse(meta_text.toStringRef());
    } catch (const std::exception& e) {
      ESRUN_FAIL("'", part_file.string(), "' is unreadable (", e.what(), "); remove it to score that part again");
    }
    sum += scores.where(scored, torch::zeros_like(scores));
    count += scored.to(torch::kDouble);
    train_seconds += meta.value("train_time_s", 0.0);
    score_seconds += meta.value("score_time_s", 0.0);
    data = meta.at("data");
  }

  ScoresFile file;
  file.excluded = count == 0;
  file.scores = torch::where(file.excluded, torch::zeros_like(sum), sum / count.clamp_min(1.0));
  const auto bad = torch::nonzero(~torch::isfinite(file.scores)).flatten();
  ESRUN_CHECK(bad.numel() == 0, method, " gave ", bad.numel(), " non-finite scores (the first at row ",
              bad.numel() > 0 ? bad[0].item<int64_t>() : 0, "); the scoring model diverged? see ", folder.string());
  const double wall = wall_before + seconds_since(wall_start);
  file.meta = {{"method", method},
               {"data", data},
               {"config_hash", config.resolved.hash()},
               {"epoch", epochs},
               {"epochs", config.train.epochs},
               {"repeats", config.score.repeats},
               {"parts", parts.size()},
               {"checkpoint", checkpoint ? nlohmann::json(*checkpoint) : nlohmann::json(nullptr)},
               {"holdout_fraction", method == "irreducible_loss" ? nlohmann::json(config.score.holdout_fraction)
                                                                : nlohmann::json(nullptr)},
               {"excluded", file.excluded.sum().item<int64_t>()},
               {"train_time_s", train_seconds},
               {"score_time_s", score_seconds},
               {"wall_time_s", wall},
               {"model", config.model.name},
               {"esrun_version", build_info().esrun_version}};
  write_scores(out, file);
  save_state(true);
  const auto kept = file.scores.masked_select(~file.excluded);
  spdlog::info("scores of {} samples ({} excluded) written to {}: mean {:.4g}, min {:.4g}, max {:.4g}; cost {:.1f}s "
               "(training {:.1f}s, scoring {:.1f}s)", kept.numel(), file.meta["excluded"].get<int64_t>(), out,
               kept.numel() ? kept.mean().item<double>() : 0.0, kept.numel() ? kept.min().item<double>() : 0.0,
               kept.numel() ? kept.max().item<double>() : 0.0, wall, train_seconds, score_seconds);
  return ScoreResult{out, folder, true, 0};
}

}  // namespace esrun
