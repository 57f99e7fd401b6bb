// esrun score, its methods, and the policies that read scores files: static_prune and rho_loss.
#include <catch2/catch.hpp>

#include <cmath>

#include "esrun/commands/score.h"
#include "esrun/core/error.h"
#include "esrun/data/dataset.h"
#include "esrun/sampling/policy.h"
#include "esrun/scoring/scorer.h"
#include "esrun/train/trainer.h"
#include "helpers.h"

using Catch::Matchers::Contains;
using esrun::testing::TempDir;

namespace {

std::vector<std::string> tiny(const TempDir& dir, std::vector<std::string> extra = {}) {
  esrun::testing::write_cifar10_layout(dir.path() / "cifar", 40, 40);
  std::vector<std::string> sets = {"data.name=cifar10", "data.root=" + (dir.path() / "cifar").string(),
                                   "model={name: small_cnn, width: 8}", "train.epochs=2", "threads=2",
                                   "sampler={name: uniform, meta_batch: 32}", "progress.mode=off"};
  sets.insert(sets.end(), extra.begin(), extra.end());
  return sets;
}

esrun::RunConfig config_of(const TempDir& dir, std::vector<std::string> extra = {}) {
  return esrun::load_config(esrun::RunRequest{{}, tiny(dir, std::move(extra)), std::nullopt});
}

// Every parameter zero except the output bias: the same logits `bias` for every input, and zero
// penultimate features.
void constant_logits(esrun::Trainer& trainer, const std::vector<float>& bias) {
  torch::NoGradGuard no_grad;
  for (auto& p : trainer.model().named_parameters()) {
    p.value().zero_();
    if (p.key() == "classifier.bias") p.value().copy_(torch::tensor(bias));
  }
}

std::unique_ptr<esrun::Scorer> scorer(const std::string& method, const esrun::RunConfig& config) {
  return esrun::scorers().create(method, "score.method", esrun::ScorerContext{method, &config, esrun::key_only});
}

esrun::DataIdentity identity(int64_t n) { return esrun::DataIdentity{"cifar10", n, "0123456789abcdef"}; }

std::string write_scores(const TempDir& dir, const std::string& name, const torch::Tensor& scores,
                         nlohmann::json meta = {}, torch::Tensor excluded = {}) {
  const auto data = identity(scores.size(0));
  meta["data"] = {{"dataset", data.dataset}, {"train_size", data.train_size}, {"checksum", data.checksum}};
  if (!meta.contains("method")) meta["method"] = "el2n";
  if (!meta.contains("wall_time_s")) meta["wall_time_s"] = 12.5;
  esrun::write_scores(dir / name, esrun::ScoresFile{scores.to(torch::kDouble), excluded, meta});
  return dir / name;
}

esrun::SamplerOptions prune_options(const std::string& file, double ratio, const std::string& keep = "high") {
  esrun::SamplerOptions o;
  o.name = "static_prune";
  o.scores = file;
  o.prune_ratio = ratio;
  o.score_keep = keep;
  return o;
}

// The policy as a run wires it: the scores file of sampler.scores read and checked against the
// training split `data`, then handed to the policy through its context.
std::unique_ptr<esrun::SelectionPolicy> wired(const std::string& name, const esrun::SamplerOptions& o,
                                              const esrun::DataIdentity& data) {
  esrun::PolicyContext context{data.train_size, 5, 10, torch::kCPU, 3, nullptr};
  context.scores = std::make_shared<const esrun::ScoresFile>(esrun::read_scores(*o.scores, o.where("sampler.scores"), data));
  return esrun::samplers().create(name, "sampler.name", o, context);
}

torch::Tensor plan(esrun::SelectionPolicy& policy, int64_t epoch) { return policy.plan_epoch(epoch).indices; }

}  // namespace

TEST_CASE("EL2N, least confidence, margin and entropy of a certain prediction are 0, of a uniform one their maxima",
          "[scoring]") {
  TempDir dir;
  const auto config = config_of(dir);
  esrun::Trainer trainer(config, esrun::load_dataset(config), torch::kCPU);
  const auto rows = torch::arange(trainer.data().train.size(), torch::kLong);
  const auto targets = trainer.data().train.targets.to(torch::kDouble);
  const auto score = [&](const std::string& method) { return scorer(method, config)->score(trainer, rows); };

  std::vector<float> certain(10, 0.0F);
  certain[3] = 60.0F;  // softmax = onehot(3) to double precision
  constant_logits(trainer, certain);
  const auto el2n = score("el2n");
  CHECK(el2n.masked_select(targets == 3).abs().max().item<double>() < 1e-6);                    // perfect
  CHECK(torch::allclose(el2n.masked_select(targets != 3), torch::full({1}, std::sqrt(2.0), torch::kDouble)));  // wrong
  CHECK(score("least_confidence").abs().max().item<double>() < 1e-6);
  CHECK(score("margin").abs().max().item<double>() < 1e-6);
  CHECK(score("entropy").abs().max().item<double>() < 1e-6);

  constant_logits(trainer, std::vector<float>(10, 0.0F));  // uniform over K = 10
  CHECK(torch::allclose(score("el2n"), torch::full({1}, std::sqrt(1.0 - 1.0 / 10), torch::kDouble)));
  CHECK(torch::allclose(score("least_confidence"), torch::full({1}, 0.9, torch::kDouble)));
  CHECK(torch::allclose(score("margin"), torch::full({1}, 1.0, torch::kDouble)));
  CHECK(torch::allclose(score("entropy"), torch::full({1}, std::log(10.0), torch::kDouble)));
}

TEST_CASE("GraNd of a model whose features are zero is the output bias's gradient norm ||p - y||", "[scoring]") {
  TempDir dir;
  const auto config = config_of(dir);
  esrun::Trainer trainer(config, esrun::load_dataset(config), torch::kCPU);
  std::vector<float> bias(10, 0.0F);
  bias[1] = 2.0F;
  constant_logits(trainer, bias);
  const auto rows = torch::arange(12, torch::kLong);
  // Zero features: every weight's gradient but the output bias's is zero (the output weights'
  // gradient is (p - y) times the features; everything before passes through zero weights).
  CHECK(torch::allclose(scorer("grand", config)->score(trainer, rows), scorer("el2n", config)->score(trainer, rows), 1e-5, 1e-7));
}

TEST_CASE("Forgetting counts correct-to-wrong transitions; never-learned samples rank above every learned one",
          "[scoring]") {
  TempDir dir;
  const auto config = config_of(dir);
  esrun::Trainer trainer(config, esrun::load_dataset(config), torch::kCPU);
  auto forgetting = scorer("forgetting", config);
  forgetting->start(4, torch::kCPU);
  // Presentations of rows 0..3: 0: C W C W (2 events), 1: W C C (0), 2: W W (never learned), 3: C C W (1).
  const auto step = [&](std::vector<int64_t> rows, std::vector<bool> correct, bool trained = true) {
    esrun::Observation o;
    o.indices = torch::tensor(rows, torch::kLong);
    o.correct = torch::tensor(std::vector<int>(correct.begin(), correct.end()), torch::kInt).to(torch::kBool);
    o.trained = trained;
    forgetting->observe(o);
  };
  step({0, 1, 2, 3}, {true, false, false, true});
  step({0, 1, 2, 3}, {false, true, false, true});
  step({0, 1, 2}, {false, false, false}, /*trained=*/false);  // a forward-only refresh pass: not counted
  step({0, 1, 3}, {true, true, false});
  step({0}, {false});
  const auto scores = forgetting->score(trainer, torch::arange(4, torch::kLong));
  CHECK(torch::equal(scores, torch::tensor({2.0, 0.0, 3.0, 1.0}, torch::kDouble)));
}

TEST_CASE("k-center picks the farthest point from those picked; herding moves the picked mean to the class mean",
          "[scoring]") {
  const auto line = [](std::vector<double> v) { return torch::tensor(v, torch::kDouble).unsqueeze(1); };
  // From 0: 10 is farthest; then 2 (distance 2 to 0) before 1 (distance 1).
  CHECK(torch::equal(esrun::k_center_order(line({0, 1, 10, 2}), 0), torch::tensor({0, 2, 3, 1}, torch::kLong)));
  // Mean 2.425: 3.2 is nearest; then 1.5 makes the mean of two 2.35; then 5 (2.425 * 3 - 4.7 = 2.575 is nearer 5 than 0).
  CHECK(torch::equal(esrun::herding_order(line({0, 5, 1.5, 3.2})), torch::tensor({3, 2, 1, 0}, torch::kLong)));
  // Two dimensions: the point off the cluster is picked second.
  const auto points = torch::tensor({0.0, 0.0, 0.1, 0.0, 0.0, 0.1, 5.0, 5.0}, torch::kDouble).view({4, 2});
  CHECK(esrun::k_center_order(points, 0)[1].item<int64_t>() == 3);
  // Per class, a row's score is 1 - its place in its class's order / the class's size.
  esrun::RowOutputs outputs;
  outputs.targets = torch::tensor({0, 1, 0, 1, 0}, torch::kLong);
  outputs.embeddings = torch::tensor({0.0, 0.0, 3.0, 1.0, 9.0}, torch::kDouble).unsqueeze(1);
  const auto scores = esrun::per_class_pick_order(outputs, [](const torch::Tensor& x) { return esrun::k_center_order(x, 0); });
  CHECK(torch::allclose(scores, torch::tensor({1.0, 1.0, 1.0 / 3, 0.5, 2.0 / 3}, torch::kDouble)));
}

TEST_CASE("static_prune keeps exactly round((1 - r) n) samples of the requested end and never changes its set",
          "[scoring][sampler]") {
  TempDir dir;
  const int64_t n = 20;
  const auto scores = torch::arange(n, torch::kDouble).flip(0);  // row i scores 19 - i
  const auto file = write_scores(dir, "s.pt", scores);
  auto high = wired("static_prune", prune_options(file, 0.3), identity(n));
  CHECK(torch::equal(plan(*high, 0), torch::arange(14, torch::kLong)));  // the 14 highest scores
  CHECK(torch::equal(plan(*high, 4), plan(*high, 0)));
  CHECK(high->extra_cost_s() == 12.5);
  auto low = wired("static_prune", prune_options(file, 0.5, "low"), identity(n));
  CHECK(torch::equal(plan(*low, 0), torch::arange(10, 20, torch::kLong)));

  // Excluded rows are never kept, and the ratio applies to the rest.
  auto excluded = torch::zeros({n}, torch::kBool);
  excluded.narrow(0, 0, 4).fill_(true);
  const auto held = write_scores(dir, "held.pt", scores, {}, excluded);
  auto rest = wired("static_prune", prune_options(held, 0.5), identity(n));
  CHECK(torch::equal(plan(*rest, 0), torch::arange(4, 12, torch::kLong)));

  // CCS: the hardest hard_cutoff pruned first, the budget spread over the strata, exactly the count.
  auto options = prune_options(file, 0.5, "stratified");
  options.strata = 4;
  options.hard_cutoff = 0.2;
  auto ccs = wired("static_prune", options, identity(n));
  const auto kept = plan(*ccs, 0);
  CHECK(kept.numel() == 10);
  CHECK(kept.min().item<int64_t>() >= 4);  // rows 0..3 hold the 4 highest scores
  CHECK(std::get<0>(torch::_unique(kept)).numel() == 10);
  CHECK(torch::equal(plan(*ccs, 3), kept));
  // 16 rows left in 4 strata of 4: 10 spread smallest first as 2, 2, 3, 3 (min(size, rest / strata left)).
  const auto stratum = (19.0 - kept.to(torch::kDouble)).div(15.0 / 4).floor().clamp_max(3);
  CHECK(torch::equal(std::get<0>(torch::sort(torch::bincount(stratum.to(torch::kLong), {}, 4))),
                     torch::tensor({2, 2, 3, 3}, torch::kLong)));
}

TEST_CASE("A scores file of other data, with NaN, missing, or a prune ratio keeping nothing is refused", "[scoring][sampler]") {
  TempDir dir;
  const auto file = write_scores(dir, "s.pt", torch::rand({10}, torch::kDouble));
  auto other = identity(10);
  other.checksum = "fedcba9876543210";
  REQUIRE_THROWS_WITH(wired("static_prune", prune_options(file, 0.3), other),
                      Contains("made for cifar10 with 10 training samples (checksum 0123456789abcdef)") &&
                          Contains("this run trains on cifar10 with 10 training samples (checksum fedcba9876543210)"));
  REQUIRE_THROWS_WITH(wired("static_prune", prune_options(file, 0.3), identity(11)),
                      Contains("with 11 training samples"));
  auto nan = torch::rand({10}, torch::kDouble);
  nan[7] = std::nan("");
  const auto bad = write_scores(dir, "nan.pt", nan);
  REQUIRE_THROWS_WITH(wired("static_prune", prune_options(bad, 0.3), identity(10)),
                      Contains("1 non-finite scores (the first at row 7)"));
  REQUIRE_THROWS_WITH(wired("static_prune", prune_options(dir / "none.pt", 0.3), identity(10)),
                      Contains("does not exist"));
  REQUIRE_THROWS_WITH(wired("static_prune", prune_options(file, 0.96), identity(10)),
                      Contains("sampler.prune_ratio") && Contains("keeps none"));
  esrun::testing::write_file(dir / "junk.pt", "not a scores file");
  REQUIRE_THROWS_WITH(wired("static_prune", prune_options(dir / "junk.pt", 0.3), identity(10)),
                      Contains("sampler.scores: the scores file '" + (dir / "junk.pt") +
                               "' is damaged (truncated or corrupt) or not an esrun file"));
}

TEST_CASE("A scores file with one flipped byte or cut short is found damaged, not used", "[scoring][errors]") {
  TempDir dir;
  const auto file = write_scores(dir, "s.pt", torch::rand({10}, torch::kDouble));
  const std::string whole = esrun::testing::read_file(file);
  std::string flipped = whole;
  flipped[flipped.size() / 2] = static_cast<char>(flipped[flipped.size() / 2] ^ 0x01);
  esrun::testing::write_file(dir / "flipped.pt", flipped);
  REQUIRE_THROWS_WITH(
      wired("static_prune", prune_options(dir / "flipped.pt", 0.3), identity(10)),
      Contains("the scores file '" + (dir / "flipped.pt") + "' is damaged (truncated or corrupt)"));
  esrun::testing::write_file(dir / "cut.pt", whole.substr(0, whole.size() - 100));
  REQUIRE_THROWS_WITH(
      wired("static_prune", prune_options(dir / "cut.pt", 0.3), identity(10)),
      Contains("the scores file '" + (dir / "cut.pt") + "' is damaged (truncated or corrupt)"));
}

TEST_CASE("RHO-LOSS trains on the b samples with the largest training minus irreducible loss, never on the holdout",
          "[scoring][sampler]") {
  TempDir dir;
  const int64_t n = 8;
  auto excluded = torch::zeros({n}, torch::kBool);
  excluded[0] = true;
  const auto irreducible = torch::tensor({0.0, 0.1, 2.0, 0.1, 0.5, 0.0, 3.0, 0.2}, torch::kDouble);
  const auto file = write_scores(dir, "il.pt", irreducible, {{"method", "irreducible_loss"}}, excluded);
  esrun::SamplerOptions o;
  o.name = "rho_loss";
  o.scores = file;
  o.meta_batch = 4;
  o.resolved_mini_batch = 2;
  auto rho = wired("rho_loss", o, identity(n));
  CHECK(torch::equal(plan(*rho, 0), torch::arange(1, n, torch::kLong)));
  CHECK(rho->needs_scores(0));
  esrun::Batch batch;
  batch.indices = torch::tensor({2, 3, 6, 7}, torch::kLong);
  esrun::Scores scores;
  scores.losses = torch::tensor({2.5F, 0.4F, 3.1F, 1.0F});  // reducible: 0.5, 0.3, 0.1, 0.8
  const auto chosen = std::get<0>(rho->select(batch, scores).positions.sort());
  CHECK(torch::equal(chosen, torch::tensor({0, 3}, torch::kLong)));  // rows 2 and 7, not the largest losses 6 and 2

  o.scores = write_scores(dir, "el2n.pt", irreducible);
  REQUIRE_THROWS_WITH(wired("rho_loss", o, identity(n)),
                      Contains("holds el2n scores; rho_loss needs irreducible losses"));
}

TEST_CASE("esrun score writes a scores file that static_prune reads, with its cost as the run's extra cost",
          "[scoring][end_to_end]") {
  TempDir dir;
  esrun::ScoreRequest request{esrun::RunRequest{{}, tiny(dir, {"score.method=el2n", "score.repeats=2", "score.epoch=1"}), std::nullopt},
                              (dir.path() / "scores" / "el2n.pt").string()};
  const auto result = esrun::score(request);
  REQUIRE(result.finished);
  CHECK(result.folder == dir.path() / "scores" / "el2n-runs");
  CHECK(std::filesystem::exists(result.folder / "part-1" / "summary.json"));
  const auto config = config_of(dir, {"score.method=el2n", "score.repeats=2", "score.epoch=1"});
  const auto data = esrun::identify(esrun::load_dataset(config));
  REQUIRE(data.train_size == 200);
  const auto file = esrun::read_scores((dir.path() / "scores" / "el2n.pt").string(), "sampler.scores", data);
  CHECK(file.meta["method"] == "el2n");
  CHECK(file.meta["repeats"] == 2);
  CHECK(file.meta["epoch"] == 1);
  CHECK(file.meta["config_hash"] == config.resolved.hash());
  CHECK(file.meta.value("wall_time_s", 0.0) > 0);
  CHECK(file.scores.min().item<double>() >= 0);
  CHECK(file.excluded.sum().item<int64_t>() == 0);
  // A fresh scoring into the same folder is refused; the run reads the file and reports its cost.
  REQUIRE_THROWS_WITH(esrun::score(request), Contains("esrun score --resume"));
  const auto run = esrun::run(esrun::RunRequest{{}, tiny(dir, {"sampler={name: static_prune, meta_batch: 32, prune_ratio: 0.5}",
                                                               "sampler.scores=" + ((dir.path() / "scores" / "el2n.pt").string())}), dir / "run"});
  CHECK(run.summary["extra_cost_s"].get<double>() == file.meta["wall_time_s"].get<double>());
  CHECK(run.summary["samples_backward_total"].get<int64_t>() == 2 * 100);  // half of 200, 2 epochs
}

TEST_CASE("An interrupted esrun score resumes to the scores of an uninterrupted one", "[scoring][checkpoint]") {
  TempDir dir;
  const auto sets = tiny(dir, {"score.method=forgetting", "train.epochs=3"});
  const auto whole = esrun::score(esrun::ScoreRequest{esrun::RunRequest{{}, sets, std::nullopt}, dir / "whole.pt"});
  REQUIRE(whole.finished);
  esrun::RunRequest interrupted{{}, sets, std::nullopt};
  interrupted.stop_after_steps = 17;  // mid-epoch 3 (7 steps per epoch): forgetting counts must survive the checkpoint
  const auto first = esrun::score(esrun::ScoreRequest{interrupted, dir / "split.pt"});
  REQUIRE_FALSE(first.finished);
  CHECK_FALSE(std::filesystem::exists(dir / "split.pt"));
  esrun::RunRequest resume;
  resume.resume = first.folder.string();
  REQUIRE(esrun::score(esrun::ScoreRequest{resume, std::nullopt}).finished);
  const auto data = esrun::identify(esrun::load_dataset(config_of(dir)));
  const auto a = esrun::read_scores(dir / "whole.pt", "a", data), b = esrun::read_scores(dir / "split.pt", "b", data);
  CHECK(torch::equal(a.scores, b.scores));
  CHECK(a.scores.max().item<double>() > 0);
}

TEST_CASE("irreducible_loss holds out score.holdout_fraction of the data, or scores each half with the other's model",
          "[scoring]") {
  TempDir dir;
  const auto config = config_of(dir, {"score.holdout_fraction=0.25", "score.repeats=2"});
  const auto parts = scorer("irreducible_loss", config)->parts(40);
  REQUIRE(parts.size() == 2);
  CHECK(parts[0].train_rows.numel() == 10);
  CHECK(parts[0].scored_rows.numel() == 30);
  CHECK(torch::equal(parts[1].train_rows, parts[0].train_rows));
  CHECK(parts[1].repeat == 1);
  CHECK(torch::equal(std::get<0>(torch::cat({parts[0].train_rows, parts[0].scored_rows}).sort()), torch::arange(40, torch::kLong)));
  const auto halves = scorer("irreducible_loss", config_of(dir, {"score.holdout_fraction=0"}))->parts(40);
  REQUIRE(halves.size() == 2);
  CHECK(torch::equal(halves[0].train_rows, halves[1].scored_rows));
  CHECK(torch::equal(halves[1].train_rows, halves[0].scored_rows));

  // End to end: the holdout is excluded in the file, and rho_loss trains on the rest only.
  const auto sets = tiny(dir, {"score.method=irreducible_loss", "score.holdout_fraction=0.25",
                               "sampler={name: rho_loss, meta_batch: 10}", "sampler.scores=" + (dir / "il.pt")});
  REQUIRE(esrun::score(esrun::ScoreRequest{esrun::RunRequest{{}, sets, std::nullopt}, dir / "il.pt"}).finished);
  const auto run = esrun::run(esrun::RunRequest{{}, sets, dir / "rho"});
  CHECK(run.summary["samples_backward_total"].get<int64_t>() == 2 * 15);  // 150 of 200 rows: 15 meta-batches of 10, b = 1
  CHECK(run.summary["extra_cost_s"].get<double>() > 0);
}

TEST_CASE("A scoring part without training epochs resumes when it was stopped before its scores were written",
          "[scoring][checkpoint]") {
  TempDir dir;
  const auto sets = tiny(dir, {"score.method=grand"});  // GraNd: at initialisation by default
  const auto whole = esrun::score(esrun::ScoreRequest{esrun::RunRequest{{}, sets, std::nullopt}, dir / "grand.pt"});
  REQUIRE(whole.finished);
  const auto data = esrun::identify(esrun::load_dataset(config_of(dir)));
  const auto first = esrun::read_scores(dir / "grand.pt", "a", data);
  CHECK(first.meta["epoch"] == 0);
  // As if killed while scoring: the part's run is done, its scores and the file are not written.
  std::filesystem::remove(whole.folder / "part-0.pt");
  std::filesystem::remove(dir / "grand.pt");
  esrun::RunRequest resume;
  resume.resume = whole.folder.string();
  REQUIRE(esrun::score(esrun::ScoreRequest{resume, std::nullopt}).finished);
  CHECK(torch::allclose(esrun::read_scores(dir / "grand.pt", "b", data).scores, first.scores));
  // A resumed scoring may not change its plan.
  esrun::RunRequest changed = resume;
  changed.sets = {"train.epochs=3"};  // a resumed run may grow train.epochs, a resumed scoring may not
  REQUIRE_THROWS_WITH(esrun::score(esrun::ScoreRequest{changed, std::nullopt}), Contains("keep train.epochs, score.epoch"));
}

TEST_CASE("A method's needs are checked before its scoring model trains", "[scoring][errors]") {
  TempDir dir;
  const std::vector<std::string> sets = {"data={name: linear_synthetic, linear: {train_size: 64, test_size: 16}}",
                                         "model={name: mlp, hidden: [8]}", "train.epochs=2", "progress.mode=off",
                                         "score.method=el2n"};
  REQUIRE_THROWS_WITH(esrun::score(esrun::ScoreRequest{esrun::RunRequest{{}, sets, std::nullopt}, dir / "e.pt"}),
                      Contains("score.method") && Contains("el2n scores class predictions") && Contains("regression"));
  // Before any epoch: no metrics line was written.
  const auto metrics = dir.path() / "e-runs" / "part-0" / "metrics.jsonl";
  CHECK((!std::filesystem::exists(metrics) || esrun::testing::read_file(metrics.string()).empty()));
  // Nothing trained, so the corrected config starts afresh in the same folder (irreducible losses
  // score any task).
  auto fixed = sets;
  fixed.back() = "score.method=irreducible_loss";
  CHECK(esrun::score(esrun::ScoreRequest{esrun::RunRequest{{}, fixed, std::nullopt}, dir / "e.pt"}).finished);
  REQUIRE_THROWS_WITH(esrun::score(esrun::ScoreRequest{esrun::RunRequest{{}, fixed, std::nullopt}, dir / "e.pt"}),
                      Contains("esrun score --resume"));
}
