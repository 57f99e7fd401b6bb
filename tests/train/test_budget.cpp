// train.budget: a run trains exactly its steps or samples, its schedules span the budget, and a
// run resumed mid-budget is the uninterrupted one.
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include "esrun/commands/run.h"
#include "esrun/data/dataset.h"
#include "esrun/optim/schedule.h"
#include "esrun/train/budget.h"
#include "esrun/train/trainer.h"
#include "helpers.h"

using esrun::Budget;
using esrun::BudgetKind;
using esrun::BudgetOptions;
using esrun::Spent;
using esrun::testing::TempDir;

namespace {

// y = 2x + 1 with an MLP: 512 rows, meta-batches of 64 (8 steps an epoch).
std::vector<std::string> linear_sets(const std::string& sampler, std::vector<std::string> more = {}) {
  std::vector<std::string> sets = {"data.name=linear_synthetic", "data.linear={train_size: 512, test_size: 128}",
                                   "model={name: mlp, hidden: [16]}", "train.epochs=4", "optimizer.lr=0.01",
                                   "optimizer.weight_decay=0.0", "sampler.name=" + sampler, "sampler.meta_batch=64",
                                   "threads=1", "progress.mode=off"};
  if (sampler == "es" || sampler == "eswp") sets.push_back("sampler.anneal_epochs=1");
  sets.insert(sets.end(), more.begin(), more.end());
  return sets;
}

// The learning rate of every training step of a run of `sets`.
std::vector<double> step_rates(const std::vector<std::string>& sets) {
  const auto config = esrun::testing::config_from_sets(sets);
  esrun::Trainer trainer(config, esrun::load_dataset(config), torch::kCPU);
  std::vector<double> rates;
  esrun::FitHooks hooks;
  hooks.on_step = [&](const esrun::StepProgress& step) { rates.push_back(step.lr); };
  REQUIRE(trainer.fit(0, hooks));
  return rates;
}

}  // namespace

TEST_CASE("A budget counts its own unit and reports the fraction spent", "[budget]") {
  const Budget steps(BudgetOptions{BudgetKind::Steps, 100}, 10, 10);
  CHECK(steps.used(Spent{3, 40, 999, 5.0}) == 40);
  CHECK(steps.fraction(Spent{3, 40, 999, 5.0}) == Approx(0.4));
  CHECK_FALSE(steps.exhausted(Spent{0, 99, 0, 0}));
  CHECK(steps.exhausted(Spent{0, 100, 0, 0}));
  const Budget samples(BudgetOptions{BudgetKind::Samples, 1000}, 10, 10);
  CHECK(samples.samples_left(Spent{0, 0, 990, 0}) == 10);
  CHECK(samples.samples_left(Spent{0, 0, 1200, 0}) == 0);
  CHECK(steps.samples_left(Spent{}) > int64_t{1} << 40);  // unlimited
  const Budget epochs(BudgetOptions{BudgetKind::Epochs, 10}, 10, 10);
  CHECK(epochs.exhausted(Spent{10, 0, 0, 0}));
}

TEST_CASE("A policy that trains fewer epochs shrinks any budget by the same ratio", "[budget]") {
  // reduced_epochs at r = 0.5: 20 of 40 epochs, and half of a steps or seconds budget.
  CHECK(Budget(BudgetOptions{BudgetKind::Epochs, 40}, 40, 20).amount() == 20);
  CHECK(Budget(BudgetOptions{BudgetKind::Steps, 1001}, 40, 20).amount() == 501);
  CHECK(Budget(BudgetOptions{BudgetKind::Seconds, 60}, 40, 20).amount() == Approx(30));
}

TEST_CASE("The epochs a budget is expected to last follow the last epoch's consumption", "[budget]") {
  const Budget steps(BudgetOptions{BudgetKind::Steps, 80}, 4, 4);
  const Spent plain{1, 8, 512, 0};
  CHECK(steps.expected_epochs(Spent{}, Spent{}, plain, 4) == 10);  // 80 steps of 8 a plain epoch
  // Epochs of 2 steps after the first (a pruning policy): 1 done, 72 left at 2 an epoch.
  CHECK(steps.expected_epochs(Spent{1, 8, 512, 0}, Spent{1, 2, 128, 0}, plain, 4) == 1 + 36);
  // A seconds budget before its first epoch has no rate: train.epochs.
  const Budget seconds(BudgetOptions{BudgetKind::Seconds, 10}, 4, 4);
  CHECK(seconds.expected_epochs(Spent{}, Spent{}, Spent{1, 8, 512, 0}, 4) == 4);
  CHECK(seconds.expected_epochs(Spent{2, 0, 0, 4.0}, Spent{1, 0, 0, 2.0}, plain, 4) == 5);
}

TEST_CASE("A steps or a samples budget stops exactly there, mid-epoch", "[budget][e2e]") {
  TempDir dir;
  SECTION("steps") {
    const auto result = esrun::run(esrun::RunRequest{{}, linear_sets("uniform", {"train.budget.steps=21"}), dir / "run"});
    const auto records = esrun::testing::metrics(result);
    REQUIRE(records.size() == 3);  // 8 + 8 + 5 steps
    CHECK(records.back()["optimizer_steps"] == 5);
    CHECK(records.back()["optimizer_steps_total"] == 21);
    CHECK(records.back()["test_score"].is_number());  // the budget's last epoch is evaluated
    CHECK(result.summary["budget"]["kind"] == "steps");
    CHECK(result.summary["budget"]["reached"]["steps"] == 21);
    CHECK(result.summary["epochs"] == 3);
  }
  SECTION("samples, with es training b = B/4 rows a step") {
    const auto result =
        esrun::run(esrun::RunRequest{{}, linear_sets("es", {"sampler.ratio=0.25", "train.budget.samples=1000"}), dir / "run"});
    CHECK(result.summary["samples_backward_total"] == 1000);
    CHECK(result.summary["budget"]["reached"]["samples"] == 1000);
  }
}

TEST_CASE("Cosine and one-cycle span a steps budget: the step rates are the schedule over the budget", "[budget]") {
  for (const std::string schedule : {"cosine", "onecycle"}) {
    // 21 steps where train.epochs = 4 would take 32: the schedule is compressed to the 21.
    const auto sets = linear_sets("uniform", {"schedule.name=" + schedule, "train.budget.steps=21"});
    const auto rates = step_rates(sets);
    REQUIRE(rates.size() == 21);
    const auto config = esrun::testing::config_from_sets(sets);
    const auto expected = esrun::schedules().create(schedule, "schedule.name", config.schedule, config.optimizer.lr, 4.0);
    for (size_t k = 0; k < rates.size(); ++k)
      CHECK(rates[k] == Approx(expected->lr(4.0 * static_cast<double>(k) / 21.0)).margin(1e-12));
    // The step after the last would be at the schedule's end: the budget leaves nothing undecayed.
    CHECK(expected->lr(4.0 * 21.0 / 21.0) == Approx(schedule == "cosine" ? 0.0 : 0.01 / 25.0 / 1e4).margin(1e-12));
  }
}

TEST_CASE("A policy's annealing follows a steps budget", "[budget]") {
  // es anneals (trains every row, no scoring forward) in its first and last anneal_epochs epochs.
  // A budget of 40 steps of 8 is 5 epochs, not train.epochs = 4: the last one anneals, the
  // fourth selects.
  const auto config = esrun::testing::config_from_sets(linear_sets("es", {"train.budget.steps=40"}));
  esrun::Trainer trainer(config, esrun::load_dataset(config), torch::kCPU);
  std::vector<int64_t> forward;
  esrun::FitHooks hooks;
  hooks.on_epoch = [&](const esrun::EpochRecord& record) {
    forward.push_back(record.samples_forward);
    return true;
  };
  REQUIRE(trainer.fit(0, hooks));
  CHECK(forward == std::vector<int64_t>{0, 512, 512, 512, 0});
  CHECK(trainer.epochs() == 5);
}

TEST_CASE("A run resumed mid-budget gives the uninterrupted run's metrics", "[budget][e2e][resume]") {
  for (const std::string budget : {"train.budget.steps=21", "train.budget.samples=700"}) {
    TempDir dir;
    const auto sets = linear_sets("infobatch", {budget, "sampler.prune_ratio=0.5"});
    const auto whole = esrun::run(esrun::RunRequest{{}, sets, dir / "whole"});
    const auto [pieces, invocations] = esrun::testing::run_in_pieces(sets, dir / "pieces", 3, 4);
    CHECK(invocations >= 3);  // stopped twice or more within the budget
    REQUIRE(pieces.finished);
    CHECK(esrun::testing::without_times(esrun::testing::metrics(pieces)) ==
          esrun::testing::without_times(esrun::testing::metrics(whole)));
    for (const char* unit : {"epochs", "steps", "samples"})
      CHECK(pieces.summary["budget"]["reached"][unit] == whole.summary["budget"]["reached"][unit]);
    CHECK(pieces.summary["work"] == whole.summary["work"]);
  }
}

TEST_CASE("A run's work counts its steps and forwards by rows, the same on a busy machine", "[budget][e2e]") {
  TempDir dir;
  const auto sets = linear_sets("es", {"sampler.ratio=0.25", "train.epochs=3"});
  const auto quiet = esrun::run(esrun::RunRequest{{}, sets, dir / "quiet"});
  // es: annealing epochs step on B = 64 rows, selecting ones score 64 and step on b = 16.
  const auto& work = quiet.summary["work"];
  CHECK(work["train_steps"] == nlohmann::json{{"16", 8}, {"64", 16}});
  CHECK(work["forwards"] == nlohmann::json{{"64", 8}});
  int64_t steps = 0, rows = 0, forwarded = 0;
  for (const auto& [size, count] : work["train_steps"].items()) {
    steps += count.get<int64_t>();
    rows += std::stoll(size) * count.get<int64_t>();
  }
  for (const auto& [size, count] : work["forwards"].items()) forwarded += std::stoll(size) * count.get<int64_t>();
  CHECK(steps == quiet.summary["budget"]["reached"]["steps"]);
  CHECK(rows == quiet.summary["samples_backward_total"]);
  CHECK(forwarded == quiet.summary["samples_forward_total"]);
  // The same run while another thread keeps a core busy: other wall times, the same work.
  std::atomic<bool> stop{false};
  std::thread busy([&] {
    volatile double x = 0;
    while (!stop.load()) x = x + 1.0;
  });
  const auto loaded = esrun::run(esrun::RunRequest{{}, sets, dir / "loaded"});
  stop = true;
  busy.join();
  CHECK(loaded.summary["work"] == work);
}

TEST_CASE("A run under a steps budget may not change train.epochs when resumed", "[budget][e2e][resume]") {
  TempDir dir;
  esrun::RunRequest request{{}, linear_sets("uniform", {"train.budget.steps=20"}), dir / "run"};
  request.stop_after_steps = 3;
  REQUIRE_FALSE(esrun::run(request).finished);
  REQUIRE_THROWS_WITH(esrun::run(esrun::testing::resume_request(dir / "run", {"train.epochs=8"})),
                      Catch::Matchers::Contains("train.epochs may not change under a steps, samples or seconds budget"));
  CHECK(esrun::run(esrun::testing::resume_request(dir / "run")).finished);
}
