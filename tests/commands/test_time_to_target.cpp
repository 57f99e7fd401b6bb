// eval.targets and eval.every_steps: when a run first reached each quality, on a curve that
// evaluation time never lengthens.
#include <catch2/catch.hpp>

#include "esrun/commands/run.h"
#include "esrun/commands/summary.h"
#include "helpers.h"

using esrun::testing::TempDir;

namespace {

nlohmann::json point(int64_t epoch, int64_t steps, double seconds, std::optional<double> acc, double rmse) {
  return {{"epoch", epoch}, {"step", 1}, {"optimizer_steps", steps}, {"samples_backward", 10 * steps},
          {"train_time_s", seconds}, {"test_acc", acc ? nlohmann::json(*acc) : nlohmann::json(nullptr)},
          {"test_rmse", rmse}};
}

// A 512-sample linear regression with an MLP, 8 steps an epoch, and `extra`.
std::vector<std::string> linear_run(std::vector<std::string> extra) {
  std::vector<std::string> sets = {"data.name=linear_synthetic", "data.linear={train_size: 512, test_size: 128}",
                                   "model={name: mlp, hidden: [16]}", "train.epochs=3", "sampler.meta_batch=64",
                                   "threads=1", "progress.mode=off"};
  sets.insert(sets.end(), extra.begin(), extra.end());
  return sets;
}

}  // namespace

TEST_CASE("time_to_target names the first evaluation that reached each target, or none", "[summary]") {
  const std::vector<nlohmann::json> curve = {point(0, 4, 1.5, 0.40, 9.0), point(0, 8, 3.0, std::nullopt, 7.0),
                                             point(1, 12, 4.5, 0.65, 5.0), point(1, 16, 6.0, 0.60, 4.0),
                                             point(2, 20, 7.5, 0.72, 4.5)};
  const auto acc = esrun::time_to_target(curve, {0.6, 0.7, 0.9}, "acc", false);
  REQUIRE(acc.size() == 3);
  CHECK(acc[0]["reached"] == true);
  CHECK(acc[0]["train_time_s"] == 4.5);  // 0.65 is the first at or above 0.6, not the later 0.60
  CHECK(acc[0]["optimizer_steps"] == 12);
  CHECK(acc[0]["samples_backward"] == 120);
  CHECK(acc[0]["epoch"] == 1);
  CHECK(acc[1]["train_time_s"] == 7.5);
  CHECK(acc[2]["reached"] == false);
  CHECK(acc[2]["train_time_s"].is_null());
  CHECK(acc[2]["target"] == 0.9);
  // An error metric is reached at or below its target.
  const auto rmse = esrun::time_to_target(curve, {7.0, 4.5}, "rmse", true);
  CHECK(rmse[0]["optimizer_steps"] == 8);
  CHECK(rmse[1]["optimizer_steps"] == 16);
  CHECK(esrun::time_to_target(curve, {}, "acc", false).empty());
}

TEST_CASE("eval.every_steps evaluates within epochs, and its time is no train time", "[summary][e2e]") {
  TempDir dir;
  const auto result =
      esrun::run(esrun::RunRequest{{}, linear_run({"eval.every_steps=3", "eval.targets=[1.0e9, 0.0]"}), dir / "run"});
  const auto curve = esrun::testing::read_jsonl(result.run_dir / "evaluations.jsonl");
  // 24 steps: within epochs after steps 3, 6 (epoch 1), 9, 12, 15 (epoch 2), 18, 21 (epoch 3; 24
  // ends it), and the three epochs' own evaluations.
  REQUIRE(curve.size() == 10);
  std::vector<int64_t> steps;
  for (const auto& p : curve) steps.push_back(p["optimizer_steps"].get<int64_t>());
  CHECK(steps == std::vector<int64_t>{3, 6, 8, 9, 12, 15, 16, 18, 21, 24});
  for (size_t i = 1; i < curve.size(); ++i) CHECK(curve[i]["train_time_s"] >= curve[i - 1]["train_time_s"]);
  // Train time is at most every epoch's time less its evaluations, those within it included
  // (counting them would exceed it by their seconds).
  double train = 0;
  for (const auto& r : esrun::testing::metrics(result))
    train += r["time"]["epoch_total"].get<double>() - r["time"]["eval"].get<double>();
  CHECK(result.summary["train_time_s"].get<double>() <= train + 1e-9);
  // An RMSE of 1e9 is reached at the first evaluation; 0 never.
  const auto& reached = result.summary["time_to_target"];
  REQUIRE(reached.size() == 2);
  CHECK(reached[0]["optimizer_steps"] == 3);
  CHECK(reached[1]["reached"] == false);
}

TEST_CASE("a budget that ends on an every_steps multiple is evaluated once there", "[summary][e2e]") {
  TempDir dir;
  const auto result =
      esrun::run(esrun::RunRequest{{}, linear_run({"train.budget.steps=12", "eval.every_steps=3"}), dir / "run"});
  std::vector<int64_t> steps;
  for (const auto& p : esrun::testing::read_jsonl(result.run_dir / "evaluations.jsonl"))
    steps.push_back(p["optimizer_steps"].get<int64_t>());
  // 8 steps an epoch: within the first after 3 and 6, its own at 8; within the second after 9; the
  // budget's end at 12 is the second epoch's own evaluation, not one within it as well.
  CHECK(steps == std::vector<int64_t>{3, 6, 8, 9, 12});
}
