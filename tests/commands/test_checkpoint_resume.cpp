// Checkpoints, resume and non-finite losses.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>

#include "esrun/commands/run.h"
#include "helpers.h"

using Catch::Matchers::Contains;
using esrun::testing::TempDir;
using esrun::testing::resume_request;
using esrun::testing::without_times;

namespace {

std::vector<std::string> tiny(const TempDir& dir, const std::string& sampler) {
  esrun::testing::write_cifar10_layout(dir.path() / "cifar", 40, 40);
  return {"data.name=cifar10", "data.root=" + (dir.path() / "cifar").string(), "model={name: small_cnn, width: 8}",
          "train.epochs=4", "threads=2", "sampler=" + sampler, "data.label_noise={kind: uniform, ratio: 0.2}"};
}

// A uniform run stopped after its first epoch in dir/run; returns its config overrides.
std::vector<std::string> started_run(const TempDir& dir) {
  const auto sets = tiny(dir, "{name: uniform, meta_batch: 32}");
  esrun::RunRequest first{{}, sets, dir / "run"};
  first.stop_after = 1;
  esrun::run(first);
  return sets;
}

}  // namespace

TEST_CASE("A run interrupted and resumed ends with the same metrics as an uninterrupted one", "[checkpoint][e2e]") {
  for (const std::string sampler : {"{name: uniform, meta_batch: 32}", "{name: es, meta_batch: 32, anneal_epochs: 1}",
                                    "{name: selective_backprop, meta_batch: 32, mini_batch: 16}", "{name: ka, meta_batch: 32}"}) {
    INFO(sampler);
    TempDir dir;
    const auto sets = tiny(dir, sampler);
    const auto whole = esrun::run(esrun::RunRequest{{}, sets, dir / "whole"});
    esrun::RunRequest first{{}, sets, dir / "parts"};
    first.stop_after = 2;
    const auto stopped = esrun::run(first);
    CHECK_FALSE(stopped.finished);
    CHECK_FALSE(std::filesystem::exists(dir.path() / "parts" / "summary.json"));
    CHECK(std::filesystem::exists(dir.path() / "parts" / "checkpoints" / "last.pt"));
    CHECK(esrun::testing::read_jsonl(dir.path() / "parts" / "metrics.jsonl").size() == 2);
    auto second = resume_request(dir / "parts");
    const auto resumed = esrun::run(second);
    CHECK(resumed.finished);
    CHECK(without_times(esrun::testing::metrics(resumed)) == without_times(esrun::testing::metrics(whole)));
    CHECK(resumed.summary["final_test_acc"] == whole.summary["final_test_acc"]);
    CHECK(resumed.summary["samples_backward_total"] == whole.summary["samples_backward_total"]);
  }
}

TEST_CASE("Resume refuses a config that changes the experiment and allows more epochs", "[checkpoint][errors]") {
  TempDir dir;
  started_run(dir);
  auto changed = resume_request(dir / "run", {"optimizer.lr=0.5"});
  REQUIRE_THROWS_WITH(esrun::run(changed), Contains("optimizer.lr: 0.1 -> 0.5") && Contains("may not change"));
  auto fewer = resume_request(dir / "run", {"train.epochs=2"});
  REQUIRE_THROWS_WITH(esrun::run(fewer), Contains("epochs may only grow"));
  auto longer = resume_request(dir / "run", {"train.epochs=5", "threads=1"});  // threads may change too
  const auto result = esrun::run(longer);
  CHECK(esrun::testing::metrics(result).size() == 5);
  auto missing = resume_request(dir.path() / "nowhere");
  REQUIRE_THROWS_WITH(esrun::run(missing), Contains("cannot read config file"));
}

TEST_CASE("A leftover partial checkpoint file never replaces the last good one", "[checkpoint]") {
  TempDir dir;
  started_run(dir);
  // A crash during the next write leaves a truncated temporary file beside last.pt.
  esrun::testing::write_file((dir.path() / "run" / "checkpoints" / "last.pt.tmp").string(), "PK\x03\x04 truncated");
  auto second = resume_request(dir / "run");
  CHECK(esrun::run(second).finished);
}

TEST_CASE("A damaged last.pt is an error naming it and the intact previous checkpoint, which resumes",
          "[checkpoint][errors]") {
  TempDir dir;
  const auto sets = tiny(dir, "{name: uniform, meta_batch: 32}");
  esrun::RunRequest first{{}, sets, dir / "run"};
  first.stop_after = 2;
  esrun::run(first);
  const auto folder = dir.path() / "run" / "checkpoints";
  REQUIRE(std::filesystem::exists(folder / "last.prev.pt"));  // the checkpoint after epoch 1
  // Cut last.pt in half, as a full disk or a killed copy would.
  const std::string whole = esrun::testing::read_file((folder / "last.pt").string());
  esrun::testing::write_file((folder / "last.pt").string(), whole.substr(0, whole.size() / 2));
  auto resume = resume_request(dir / "run");
  REQUIRE_THROWS_WITH(esrun::run(resume),
                      Contains("the checkpoint '" + (folder / "last.pt").string() + "' is damaged (truncated or corrupt)") &&
                          Contains((folder / "last.prev.pt").string() + " is intact (epochs done: 1); to resume from it: cp"));
  // Through the command line: exit code 2 and those lines, no libtorch backtrace.
  const std::string log = (dir.path() / "log.txt").string();
  const int status = std::system((std::string(ESRUN_BINARY) + " --resume " + (dir.path() / "run").string() + " > " + log +
                                  " 2>&1").c_str());
  CHECK(WEXITSTATUS(status) == 2);
  const std::string output = esrun::testing::read_file(log);
  CHECK_THAT(output, Contains("is damaged (truncated or corrupt)"));
  CHECK_FALSE(output.find("Exception raised from") != std::string::npos);
  CHECK_FALSE(output.find("frame #") != std::string::npos);
  // Following the advice resumes the run from epoch 2 to the end.
  std::filesystem::copy_file(folder / "last.prev.pt", folder / "last.pt", std::filesystem::copy_options::overwrite_existing);
  const auto result = esrun::run(resume);
  CHECK(result.finished);
  CHECK(esrun::testing::metrics(result).size() == 4);
}

TEST_CASE("A checkpoint with one flipped byte is found damaged by its checksum, not trained on", "[checkpoint][errors]") {
  TempDir dir;
  started_run(dir);
  const std::string last = (dir.path() / "run" / "checkpoints" / "last.pt").string();
  std::string bytes = esrun::testing::read_file(last);
  bytes[bytes.size() / 3] = static_cast<char>(bytes[bytes.size() / 3] ^ 0xff);  // inside the model's weights
  esrun::testing::write_file(last, bytes);
  auto resume = resume_request(dir / "run");
  REQUIRE_THROWS_WITH(esrun::run(resume), Contains("the checkpoint '" + last + "' is damaged (truncated or corrupt)") &&
                                              Contains("its checksum does not match its contents"));
}

TEST_CASE("best.pt keeps the epoch with the best test accuracy", "[checkpoint]") {
  TempDir dir;
  auto sets = tiny(dir, "{name: uniform, meta_batch: 32}");
  sets.push_back("checkpoint.best=true");
  sets.push_back("checkpoint.every=0");
  const auto result = esrun::run(esrun::RunRequest{{}, sets, dir / "run"});
  CHECK(std::filesystem::exists(result.run_dir / "checkpoints" / "best.pt"));
  CHECK(std::filesystem::exists(result.run_dir / "checkpoints" / "last.pt"));
}

TEST_CASE("A non-finite loss stops the run naming epoch and step, or is skipped on request", "[checkpoint][errors]") {
  TempDir dir;
  auto sets = tiny(dir, "{name: uniform, meta_batch: 32}");
  sets.push_back("optimizer={name: sgd, lr: 1.0e30}");
  sets.push_back("schedule.name=constant");
  REQUIRE_THROWS_WITH(esrun::run(esrun::RunRequest{{}, sets, dir / "stop"}),
                      Contains("non-finite (NaN or Inf) in epoch 0 at step") && Contains("train.on_nan: skip"));
  CHECK_FALSE(std::filesystem::exists(dir.path() / "stop" / "summary.json"));
  // A stop in the middle of the epoch does not checkpoint the poisoned model either.
  esrun::RunRequest interrupted{{}, sets, dir / "interrupted"};
  interrupted.stop_after_steps = 3;
  REQUIRE_THROWS_WITH(esrun::run(interrupted), Contains("non-finite (NaN or Inf) in epoch 0"));
  CHECK_FALSE(std::filesystem::exists(dir.path() / "interrupted" / "checkpoints" / "last.pt"));
  sets.push_back("train.on_nan=skip");
  sets.push_back("train.epochs=1");
  const auto skipped = esrun::run(esrun::RunRequest{{}, sets, dir / "skip"});
  CHECK(skipped.summary["samples_backward_total"].get<int64_t>() < 200);
}

TEST_CASE("A run stopped between two steps of an epoch resumes to the same metrics as an uninterrupted one",
          "[checkpoint][e2e][signals]") {
  // 200 training images in meta-batches of 32: up to 7 steps per epoch; stopping every 3-4 steps
  // cuts epochs in the middle (policy queues, open EMAs and half-summed totals included).
  for (const std::string sampler :
       {"{name: uniform, meta_batch: 32}", "{name: es, meta_batch: 32, anneal_epochs: 1}",
        "{name: eswp, meta_batch: 32, prune_ratio: 0.3, anneal_epochs: 1}",
        "{name: selective_backprop, meta_batch: 32, mini_batch: 16}", "{name: omission, meta_batch: 32}",
        "{name: order, meta_batch: 32, mini_batch: 16}", "{name: infobatch, meta_batch: 32}"}) {
    INFO(sampler);
    TempDir dir;
    const auto sets = tiny(dir, sampler);
    const auto whole = esrun::run(esrun::RunRequest{{}, sets, dir / "whole"});
    const auto [part, invocations] = esrun::testing::run_in_pieces(sets, dir / "parts", 3, 4);
    REQUIRE(part.finished);
    CHECK(invocations > 3);
    CHECK(without_times(esrun::testing::metrics(part)) == without_times(esrun::testing::metrics(whole)));
    CHECK(part.summary["final_test_acc"] == whole.summary["final_test_acc"]);
  }
}

TEST_CASE("A regression run with AdaSelection's set C, stopped mid-epoch, resumes to the same metrics",
          "[checkpoint][e2e][signals][regression]") {
  // 300 samples, B = 40, rate 0.3: 12 chosen per meta-batch, so C is part-full at most stops and
  // carries rows (with float targets) across epochs; ViT-free, but the MLP has biases for AdamW's
  // second parameter group.
  TempDir dir;
  const std::vector<std::string> sets = {
      "data.name=linear_synthetic", "data.linear={train_size: 300, test_size: 60}",
      "model={name: mlp, hidden: [8]}", "train.epochs=3", "threads=2",
      "optimizer={name: adamw, lr: 0.01, no_decay_bias_norm: true}",
      "sampler={name: adaselection, meta_batch: 40, ratio: 0.3}", "checkpoint.every=1"};
  const auto whole = esrun::run(esrun::RunRequest{{}, sets, dir / "whole"});
  const auto [part, invocations] = esrun::testing::run_in_pieces(sets, dir / "parts", 3, 2);
  REQUIRE(part.finished);
  CHECK(invocations > 3);
  CHECK(without_times(esrun::testing::metrics(part)) == without_times(esrun::testing::metrics(whole)));
  CHECK(part.summary["final_test_rmse"] == whole.summary["final_test_rmse"]);
}

TEST_CASE("A fresh run refuses an --out folder that holds a started run", "[checkpoint][errors]") {
  TempDir dir;
  const auto sets = started_run(dir);
  REQUIRE_THROWS_WITH(esrun::run(esrun::RunRequest{{}, sets, dir / "run"}),
                      Contains("already holds a started run") && Contains("--resume"));
  CHECK(esrun::testing::read_jsonl(dir.path() / "run" / "metrics.jsonl").size() == 1);
}
