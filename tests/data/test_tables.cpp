// csv_table and linear_synthetic, the regression task end to end, and their bad input.
#include <catch2/catch.hpp>

#include <numeric>

#include "esrun/commands/run.h"
#include "esrun/data/dataset.h"
#include "esrun/train/trainer.h"
#include "helpers.h"

using Catch::Matchers::Contains;
using esrun::testing::TempDir;

namespace {

esrun::RunConfig config_with(const std::vector<std::string>& sets) {
  return esrun::load_config(esrun::RunRequest{{}, sets, std::nullopt});
}

// A small table: a numeric feature a, a categorical c, columns to drop (id, note and part, which
// marks the rows with c == "z" as "test"), and y = 3a + (c == "x").
std::string write_table(const TempDir& dir, int rows = 40) {
  std::string text = "id,a,c,y,note,part\n";
  for (int i = 0; i < rows; ++i) {
    const double a = i * 0.5;
    const std::string c = i % 3 == 0 ? "x" : (i % 3 == 1 ? "y" : "z");
    text += std::to_string(i) + "," + std::to_string(a) + "," + c + "," + std::to_string(3 * a + (c == "x")) +
            ",\"free, text\"," + (c == "z" ? "test" : "train") + "\n";
  }
  return esrun::testing::write_file(dir / "table/data.csv", text);
}

std::vector<std::string> table_sets(const TempDir& dir) {
  return {"data.name=csv_table", "data.root=" + (dir.path() / "table").string(),
          "data.csv={target: y, drop: [id, note, part], categorical: [c]}"};
}

}  // namespace

TEST_CASE("csv_table reads features, one-hot categories and the target, and splits by a seeded fraction",
          "[data][csv]") {
  TempDir dir;
  write_table(dir);
  auto sets = table_sets(dir);
  sets.push_back("task.standardize=false");
  const auto data = esrun::load_dataset(config_with(sets));
  CHECK(data.task == "regression");
  CHECK(data.train.size() == 32);  // round(0.2 * 40) = 8 test rows
  CHECK(data.test.size() == 8);
  // a (standardised) then c's one-hot block over x, y, z.
  REQUIRE(data.train.inputs.sizes() == torch::IntArrayRef({32, 4}));
  CHECK(data.input_shape() == std::vector<int64_t>{4});
  CHECK(data.train.inputs.narrow(1, 1, 3).sum(1).eq(1).all().item<bool>());
  // Rows are kept in file order within each split and the two splits are disjoint.
  const auto all = torch::cat({data.train.source_index, data.test.source_index});
  CHECK(std::get<0>(all.sort()).equal(torch::arange(40, torch::kLong)));
  // The targets are the file's y of those rows (no standardisation here).
  const auto row = data.train.source_index[5].item<int64_t>();
  CHECK(data.train.targets[5].item<float>() == Approx(3 * row * 0.5 + (row % 3 == 0)));
  // The same seed gives the same split; another seed another one.
  CHECK(esrun::load_dataset(config_with(sets)).test.source_index.equal(data.test.source_index));
  sets.push_back("seed=9");
  CHECK_FALSE(esrun::load_dataset(config_with(sets)).test.source_index.equal(data.test.source_index));
}

TEST_CASE("Standardisation of features and targets is fitted on the training split only", "[data][csv]") {
  TempDir dir;
  write_table(dir);
  auto sets = table_sets(dir);
  sets.push_back("data.csv.split_column=part");
  sets.push_back("data.csv.test_values=[test]");
  const auto data = esrun::load_dataset(config_with(sets));
  CHECK(data.test.size() == 13);  // rows 2, 5, ..., 38
  // The split column is not a feature by default; naming it as one is an error.
  auto with_split_feature = sets;
  with_split_feature.push_back("data.csv.features=[a, c, part]");
  CHECK_THROWS_WITH(esrun::load_dataset(config_with(with_split_feature)), Contains("the split column 'part' cannot be a feature"));
  const auto a = data.train.inputs.select(1, 0).to(torch::kDouble);
  CHECK(a.mean().item<double>() == Approx(0.0).margin(1e-6));
  CHECK(a.std().item<double>() == Approx(1.0));
  CHECK(data.train.targets.to(torch::kDouble).mean().item<double>() == Approx(0.0).margin(1e-6));
  CHECK(data.train.targets.to(torch::kDouble).std().item<double>() == Approx(1.0));
  // The test rows use the training statistics: their a is not centred.
  CHECK(std::abs(data.test.inputs.select(1, 0).mean().item<double>()) > 0.01);
  // z was never seen in training: its one-hot block is x, y only, and test rows encode as zeros.
  CHECK(data.train.inputs.size(1) == 3);
  CHECK(data.test.inputs.narrow(1, 1, 2).abs().sum().item<double>() == 0.0);
  // Un-standardising recovers the file's values.
  const auto row = data.test.source_index[0].item<int64_t>();
  CHECK(data.test.targets[0].item<double>() * data.target_std + data.target_mean == Approx(3 * row * 0.5));
}

TEST_CASE("csv_table reads a separate test file and, as classification, integer targets as classes", "[data][csv]") {
  TempDir dir;
  esrun::testing::write_file(dir / "t/train.csv", "f,label\n0.1,0\n0.2,1\n0.3,2\n0.4,1\n");
  esrun::testing::write_file(dir / "t/test.csv", "f,label\n0.5,2\n");
  const std::vector<std::string> sets = {"data.name=csv_table", "data.root=" + (dir.path() / "t").string(),
                                         "data.csv={file: train.csv, test_file: test.csv, target: label}",
                                         "task.name=classification"};
  const auto data = esrun::load_dataset(config_with(sets));
  CHECK(data.task == "classification");
  CHECK(data.num_classes == 3);
  CHECK(data.train.targets.equal(torch::tensor({0, 1, 2, 1}, torch::kLong)));
  CHECK(data.test.targets.equal(torch::tensor({2}, torch::kLong)));
}

TEST_CASE("linear_synthetic draws y = slope x + intercept + noise, deterministic from the seed", "[data][linear]") {
  const std::vector<std::string> sets = {"data.name=linear_synthetic", "data.linear={train_size: 2000, test_size: 500, noise: 0.0}",
                                         "task.standardize=false"};
  const auto data = esrun::load_dataset(config_with(sets));
  CHECK(data.train.inputs.sizes() == torch::IntArrayRef({2000, 1}));
  CHECK(data.test.size() == 500);
  CHECK(torch::allclose(data.train.targets, 2 * data.train.inputs.view({-1}) + 1, 1e-5, 1e-5));
  CHECK(data.train.inputs.min().item<float>() >= -5.0f);
  CHECK(data.train.inputs.max().item<float>() < 5.0f);
  CHECK(esrun::load_dataset(config_with(sets)).train.inputs.equal(data.train.inputs));
  auto noisy = sets;
  noisy.push_back("data.linear.noise=0.5");
  const auto with_noise = esrun::load_dataset(config_with(noisy));
  const auto residual = with_noise.train.targets - (2 * with_noise.train.inputs.view({-1}) + 1);
  CHECK(residual.std().item<double>() == Approx(0.5).epsilon(0.1));
}

TEST_CASE("Bad tables are rejected with the file, row and column", "[data][csv][errors]") {
  TempDir dir;
  const auto load = [&](const std::string& content, std::vector<std::string> extra = {}) {
    esrun::testing::write_file(dir / "bad/data.csv", content);
    std::vector<std::string> sets = {"data.name=csv_table", "data.root=" + (dir.path() / "bad").string(),
                                     "data.csv.target=y"};
    sets.insert(sets.end(), extra.begin(), extra.end());
    return esrun::load_dataset(config_with(sets));
  };
  const std::string file = (dir.path() / "bad" / "data.csv").string();
  CHECK_THROWS_WITH(load("x,y\n1,2\n3\n"), Contains(file + ":3: expected 2 fields as in the header, got 1"));
  CHECK_THROWS_WITH(load("x,y\n1,2\n3,4\nabc,5\n4,5\n5,6\n"),
                    Contains(file + ":4: column 'x': expected a number, got 'abc'"));
  CHECK_THROWS_WITH(load("x,z\n1,2\n"), Contains("data.csv.target (--set data.csv.target=y): column 'y' is not in the header of " + file) &&
                                            Contains("columns: x, z"));
  CHECK_THROWS_WITH(load(""), Contains(file + ": the file is empty"));
  CHECK_THROWS_WITH(load("x,y\n"), Contains(file + ": has a header but no data rows"));
  CHECK_THROWS_WITH(load("x,y\n1,\"2\n"), Contains(file + ":2: a quoted field is not closed"));
}

TEST_CASE("Label noise or label smoothing on a regression task is a configuration error", "[data][errors]") {
  CHECK_THROWS_WITH(esrun::load_dataset(config_with({"data.name=linear_synthetic", "data.label_noise={kind: uniform, ratio: 0.1}"})),
                    Contains("data.label_noise.kind (") && Contains("regression task"));
  CHECK_THROWS_WITH(esrun::load_dataset(config_with({"data.name=linear_synthetic", "train.label_smoothing=0.1"})),
                    Contains("train.label_smoothing (--set") && Contains("regression task"));
#ifdef ESRUN_WITH_OPENCV
  CHECK_THROWS_WITH(esrun::load_dataset(config_with({"data.name=synthetic_shapes", "task.name=regression",
                                                     "data.synthetic={train_size: 8, test_size: 8}"})),
                    Contains("task.name (--set task.name=regression)") && Contains("image classification dataset"));
#endif
}

TEST_CASE("A regression run learns y = 2x + 1 and reports every task's metrics in one schema", "[e2e][regression]") {
  TempDir dir;
  const auto result = esrun::run(esrun::RunRequest{
      {},
      {"data.name=linear_synthetic", "data.linear={train_size: 2000, test_size: 500, noise: 0.1}",
       "model={name: mlp, hidden: [16]}", "train.epochs=4", "optimizer={name: sgd, lr: 0.05, weight_decay: 0.0}",
       "schedule.name=constant", "sampler.meta_batch=50", "threads=2"},
      dir / "run"});
  const auto lines = esrun::testing::metrics(result);
  REQUIRE(lines.size() == 4);
  const auto& last = lines.back();
  for (const char* field : {"test_loss", "test_acc", "test_mse", "test_rmse", "test_mae", "test_r2", "test_score"})
    CHECK(last[field].is_number());
  CHECK(last["test_acc5"].is_null());
  CHECK(last["test_r2"].get<double>() > 0.95);
  // RMSE in the original units: the noise std is 0.1 and y spans about [-9, 11].
  CHECK(last["test_rmse"].get<double>() < 1.5);
  CHECK(last["test_rmse"].get<double>() == Approx(std::sqrt(last["test_mse"].get<double>())));
  CHECK(result.summary["final_test_r2"] == last["test_r2"]);
  CHECK(result.summary["best_test_rmse"].get<double>() <= result.summary["final_test_rmse"].get<double>());
  CHECK(result.summary["final_test_acc5"].is_null());
}

TEST_CASE("A classification run writes the regression metrics as null", "[e2e][regression]") {
  TempDir dir;
  esrun::testing::write_file(dir / "t/data.csv", [] {
    std::string text = "a,b,label\n";
    for (int i = 0; i < 60; ++i) text += std::to_string(i % 7) + "," + std::to_string(i % 3) + "," + std::to_string(i % 2) + "\n";
    return text;
  }());
  const auto result = esrun::run(esrun::RunRequest{
      {},
      {"data.name=csv_table", "data.root=" + (dir.path() / "t").string(), "data.csv.target=label",
       "task.name=classification", "model={name: mlp, hidden: [8]}", "train.epochs=1", "sampler.meta_batch=16", "threads=2"},
      dir / "run"});
  const auto last = esrun::testing::metrics(result).back();
  CHECK(last["test_acc"].is_number());
  for (const char* field : {"test_mse", "test_rmse", "test_mae", "test_r2"}) CHECK(last[field].is_null());
}

TEST_CASE("train.accumulate gives the same step as one pass over all rows", "[e2e][optim]") {
  const auto make = [](std::optional<int64_t> micro) {
    std::vector<std::string> sets = {"data.name=linear_synthetic", "data.linear={train_size: 64, test_size: 8}",
                                     "model={name: mlp, hidden: [16, 8], activation: tanh}", "sampler.meta_batch=24",
                                     "optimizer={name: sgd, lr: 0.1, momentum: 0.9, weight_decay: 0.01}", "threads=1"};
    if (micro) sets.push_back("train.accumulate=" + std::to_string(*micro));
    const auto config = esrun::load_config(esrun::RunRequest{{}, sets, std::nullopt});
    return std::make_unique<esrun::Trainer>(config, esrun::load_dataset(config), torch::kCPU);
  };
  auto whole = make(std::nullopt), parts = make(5);  // 24 rows: micro-batches of 5, 5, 5, 5, 4
  const auto rows = torch::arange(24, torch::kLong);
  const auto batch = whole->make_batch(rows, 0);
  const auto weights = torch::linspace(0.5, 1.5, 24);
  for (int step = 0; step < 2; ++step) {  // the second step also checks the momentum buffers
    const auto a = whole->train_step(batch.inputs, batch.targets, weights, 0.1);
    const auto b = parts->train_step(batch.inputs, batch.targets, weights, 0.1);
    CHECK(torch::allclose(a.loss, b.loss, 1e-5, 1e-6));
    CHECK(torch::allclose(a.rows.losses, b.rows.losses, 1e-5, 1e-6));
    CHECK(torch::allclose(a.rows.grad_norms, b.rows.grad_norms, 1e-5, 1e-6));
    CHECK(torch::equal(a.rows.correct, b.rows.correct));
  }
  const auto pa = whole->model().parameters(), pb = parts->model().parameters();
  REQUIRE(pa.size() == pb.size());
  for (size_t i = 0; i < pa.size(); ++i) CHECK(torch::allclose(pa[i], pb[i], 1e-5, 1e-6));
}

TEST_CASE("With train.accumulate the scoring forward runs in micro-batches and gives the same scores", "[e2e][optim]") {
  const auto make = [](std::optional<int64_t> micro) {
    std::vector<std::string> sets = {"data.name=linear_synthetic", "data.linear={train_size: 64, test_size: 8}",
                                     "model={name: mlp, hidden: [16], batch_norm: true}", "sampler.meta_batch=24",
                                     "threads=1"};
    if (micro) sets.push_back("train.accumulate=" + std::to_string(*micro));
    const auto config = esrun::load_config(esrun::RunRequest{{}, sets, std::nullopt});
    return std::make_unique<esrun::Trainer>(config, esrun::load_dataset(config), torch::kCPU);
  };
  auto whole = make(std::nullopt), parts = make(5);
  const auto batch = whole->make_batch(torch::arange(24, torch::kLong), 0);
  // BatchNorm in train mode normalises with each pass's own statistics, so micro-batch scores are
  // those of 5-row batches: compare against scoring each micro-batch as a batch of its own.
  const auto micro_scores = parts->score(batch).losses;
  for (int64_t begin = 0; begin < 24; begin += 5) {
    const int64_t size = std::min<int64_t>(5, 24 - begin);
    const esrun::Batch part{batch.indices.narrow(0, begin, size), batch.inputs.narrow(0, begin, size),
                            batch.targets.narrow(0, begin, size)};
    CHECK(torch::allclose(micro_scores.narrow(0, begin, size), whole->score(part).losses, 1e-5, 1e-6));
  }
}

TEST_CASE("metrics.jsonl counts backward passes: ceil(b / micro) per ES step against ceil(B / micro) for uniform",
          "[e2e][optim]") {
  esrun::testing::TempDir dir;
  const auto passes = [&](const std::string& sampler) {
    const auto result = esrun::run(esrun::RunRequest{
        {},
        {"data.name=linear_synthetic", "data.linear={train_size: 96, test_size: 8}", "model={name: mlp, hidden: [8]}",
         "train.epochs=3", "train.accumulate=4", "threads=1", "optimizer={name: sgd, lr: 0.01}", "sampler={name: " + sampler + ", meta_batch: 32, " +
                                                                (sampler == "es" ? "ratio: 0.25, anneal_epochs: 1}" : "}")},
        dir / sampler});
    std::vector<int64_t> out;
    for (const auto& record : esrun::testing::metrics(result)) out.push_back(record["backward_passes"].get<int64_t>());
    CHECK(result.summary["backward_passes_total"].get<int64_t>() == std::accumulate(out.begin(), out.end(), int64_t{0}));
    return out;
  };
  // 3 steps of B = 32 per epoch: uniform 3 x ceil(32 / 4) = 24 passes; ES trains b = 8 rows in its
  // selecting epoch (3 x 2 = 6 passes) and all 32 in its two annealing epochs.
  CHECK(passes("uniform") == std::vector<int64_t>{24, 24, 24});
  CHECK(passes("es") == std::vector<int64_t>{24, 6, 24});
}

TEST_CASE("train.accumulate larger than the mini-batch is a configuration error", "[config][errors]") {
  CHECK_THROWS_WITH(config_with({"sampler={name: es, meta_batch: 64, ratio: 0.25}", "train.accumulate=32"}),
                    Contains("train.accumulate (--set train.accumulate=32): expected micro-batches of at most the 16 "
                             "rows of a training step (the mini-batch b), got 32"));
  // AdaSelection's full batches train B rows at a time, and so does every policy that is not
  // batch-level, whatever sampler.ratio says (it ignores it).
  CHECK_NOTHROW(config_with({"sampler={name: adaselection, meta_batch: 64, ratio: 0.25}", "train.accumulate=32"}));
  CHECK_NOTHROW(config_with({"sampler={name: uniform, meta_batch: 64, ratio: 0.25}", "train.accumulate=32"}));
  CHECK_THROWS_WITH(config_with({"sampler={name: uniform, meta_batch: 64}", "train.accumulate=65"}),
                    Contains("at most the 64 rows"));
}

TEST_CASE("AdaSelection trains only full batches of B; the rest waits in C for the next epoch", "[e2e][adaselection]") {
  TempDir dir;
  // n = 400, B = 40, rate 0.25: 100 chosen per epoch. Epoch 1 trains 2 x 40 (20 wait), epoch 2 then
  // has 120 (3 steps), epoch 3 has 100 (2 steps, 20 left untrained).
  const auto result = esrun::run(esrun::RunRequest{
      {},
      {"data.name=linear_synthetic", "data.linear={train_size: 400, test_size: 50}", "model={name: mlp, hidden: [8]}",
       "train.epochs=3", "sampler={name: adaselection, meta_batch: 40, ratio: 0.25}", "threads=2"},
      dir / "run"});
  const auto lines = esrun::testing::metrics(result);
  REQUIRE(lines.size() == 3);
  CHECK(lines[0]["samples_backward"] == 80);
  CHECK(lines[1]["samples_backward"] == 120);
  CHECK(lines[2]["samples_backward"] == 80);
  CHECK(lines[2]["samples_forward"] == 400);
}
