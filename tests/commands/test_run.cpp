#include <catch2/catch.hpp>

#include <cstdlib>
#include <sys/wait.h>

#include "esrun/commands/bench.h"
#include "esrun/commands/run.h"
#include "helpers.h"

using Catch::Matchers::Contains;
using esrun::testing::TempDir;
using esrun::testing::without_times;

namespace {

// A tiny CIFAR-10 layout and a config that trains small_cnn on it in a second or two.
std::vector<std::string> tiny_sets(const TempDir& dir) {
  esrun::testing::write_cifar10_layout(dir.path() / "cifar", 40, 60);
  return {"data.name=cifar10",
          "data.root=" + (dir.path() / "cifar").string(),
          "model={name: small_cnn, width: 8}",
          "train.epochs=3",
          "sampler.meta_batch=32",
          "threads=2",
          "data.label_noise={kind: uniform, ratio: 0.25}",
          "optimizer.lr=0.05"};
}

}  // namespace

TEST_CASE("A run writes the resolved config, one metrics line per epoch and a summary", "[e2e]") {
  TempDir dir;
  const auto out = dir / "run";
  const auto result = esrun::run(esrun::RunRequest{{}, tiny_sets(dir), out});
  REQUIRE(result.run_dir == out);
  CHECK(std::filesystem::exists(result.run_dir / "config.resolved.yaml"));
  const auto lines = esrun::testing::metrics(result);
  REQUIRE(lines.size() == 3);
  for (size_t e = 0; e < lines.size(); ++e) {
    const auto& r = lines[e];
    CHECK(r["epoch"] == e);
    for (const char* field : {"lr", "train_loss", "train_acc", "test_loss", "test_acc", "test_acc5", "samples_forward",
                              "samples_backward", "samples_backward_total", "epoch_dataset_size", "noisy_backward_fraction"})
      CHECK(r.contains(field));
    for (const char* field : {"epoch_total", "data", "score_forward", "select", "train_step", "eval", "train_total_so_far"})
      CHECK(r["time"][field].get<double>() >= 0.0);
    CHECK(r["samples_forward"] == 0);  // uniform runs no scoring forward
    CHECK(r["samples_backward"] == 200);
    CHECK(r["samples_backward_total"] == 200 * (e + 1));
    CHECK(r["epoch_dataset_size"] == 200);
    // 50 of 200 labels are noisy and uniform trains on every sample every epoch.
    CHECK(r["noisy_backward_fraction"].get<double>() == Approx(0.25));
    CHECK(r["test_acc5"].get<double>() >= r["test_acc"].get<double>());
    // Training time accumulates per epoch and never includes more than the epoch itself took.
    const double before = e == 0 ? 0.0 : lines[e - 1]["time"]["train_total_so_far"].get<double>();
    const double added = r["time"]["train_total_so_far"].get<double>() - before;
    CHECK(added > 0.0);
    CHECK(added <= r["time"]["epoch_total"].get<double>() - r["time"]["eval"].get<double>() + 1e-3);
  }
  const auto& summary = result.summary;
  CHECK(summary["samples_backward_total"] == 600);
  CHECK(summary["final_test_acc"] == lines.back()["test_acc"]);
  CHECK(summary["best_test_acc"].get<double>() >= summary["final_test_acc"].get<double>());
  CHECK(summary["config_hash"].get<std::string>().size() == 16);
  CHECK(summary["threads"] == 2);
  CHECK(summary["device"] == "cpu");
  CHECK(summary["libtorch_version"].get<std::string>().size() > 0);
  std::ifstream saved(result.run_dir / "summary.json");
  CHECK(nlohmann::json::parse(saved) == summary);
}

TEST_CASE("The same config and seed give identical metrics apart from times", "[e2e][determinism]") {
  TempDir dir;
  const auto sets = tiny_sets(dir);
  const auto a = esrun::run(esrun::RunRequest{{}, sets, dir / "a"});
  const auto b = esrun::run(esrun::RunRequest{{}, sets, dir / "b"});
  const auto la = esrun::testing::metrics(a);
  const auto lb = esrun::testing::metrics(b);
  REQUIRE(la.size() == lb.size());
  for (size_t i = 0; i < la.size(); ++i) CHECK(without_times(la[i]) == without_times(lb[i]));
  auto other_seed = sets;
  other_seed.push_back("seed=1");
  const auto c = esrun::run(esrun::RunRequest{{}, other_seed, dir / "c"});
  CHECK(without_times(esrun::testing::metrics(c)[0]) != without_times(la[0]));
}

TEST_CASE("train.clip_grad_norm changes training only when the gradient norm exceeds it", "[e2e][optim]") {
  TempDir dir;
  auto sets = tiny_sets(dir);
  sets.push_back("train.epochs=1");
  const auto plain = esrun::testing::metrics(esrun::run(esrun::RunRequest{{}, sets, dir / "plain"}));
  auto loose = sets;
  loose.push_back("train.clip_grad_norm=1.0e9");
  const auto unclipped = esrun::testing::metrics(esrun::run(esrun::RunRequest{{}, loose, dir / "loose"}));
  auto tight = sets;
  tight.push_back("train.clip_grad_norm=1.0e-3");
  const auto clipped = esrun::testing::metrics(esrun::run(esrun::RunRequest{{}, tight, dir / "tight"}));
  CHECK(without_times(unclipped[0]) == without_times(plain[0]));
  CHECK(clipped[0]["test_loss"] != plain[0]["test_loss"]);
}

TEST_CASE("A run learns the tiny dataset well above chance", "[e2e]") {
  TempDir dir;
  auto sets = tiny_sets(dir);
  sets.push_back("train.epochs=6");
  sets.push_back("data.label_noise.ratio=0.0");
  sets.push_back("data.label_noise.kind=none");
  const auto result = esrun::run(esrun::RunRequest{{}, sets, dir / "run"});
  CHECK(result.summary["best_test_acc"].get<double>() > 0.3);  // chance is 0.1
  const auto lines = esrun::testing::metrics(result);
  CHECK(lines[0]["noisy_backward_fraction"].is_null());
}

TEST_CASE("Evaluation runs every eval_every epochs and after the last", "[e2e]") {
  TempDir dir;
  auto sets = tiny_sets(dir);
  sets.push_back("train.eval_every=2");
  sets.push_back("sampler.drop_last=true");
  const auto result = esrun::run(esrun::RunRequest{{}, sets, dir / "run"});
  const auto lines = esrun::testing::metrics(result);
  CHECK(lines[0]["test_acc"].is_null());
  CHECK(lines[1]["test_acc"].is_number());
  CHECK(lines[2]["test_acc"].is_number());
  CHECK(lines[0]["samples_backward"] == 192);  // 6 full meta-batches of 32; the last 8 dropped
}

TEST_CASE("A run on a truncated dataset fails and leaves no summary", "[e2e][errors]") {
  TempDir dir;
  auto sets = tiny_sets(dir);
  esrun::testing::write_file((dir.path() / "cifar" / "test_batch.bin").string(), std::string(3073 + 5, '\0'));
  REQUIRE_THROWS_WITH(esrun::run(esrun::RunRequest{{}, sets, dir / "run"}),
                      Contains("test_batch.bin' has 3078 bytes, not a whole number of 3073-byte records"));
  CHECK(std::filesystem::exists(dir.path() / "run" / "config.resolved.yaml"));
  CHECK_FALSE(std::filesystem::exists(dir.path() / "run" / "summary.json"));
}

TEST_CASE("Bad config input is rejected before a run directory is created", "[e2e][errors]") {
  TempDir dir;
  REQUIRE_THROWS_WITH(esrun::run(esrun::RunRequest{{}, {"sampler.name=nope"}, dir / "run"}),
                      Contains("unknown sampler 'nope'"));
  CHECK_FALSE(std::filesystem::exists(dir.path() / "run"));
}

TEST_CASE("An --out folder holding a finished run is refused", "[e2e][errors]") {
  TempDir dir;
  esrun::testing::write_file(dir / "done/summary.json", "{}");
  REQUIRE_THROWS_WITH(esrun::run(esrun::RunRequest{{}, {}, dir / "done"}), Contains("already holds a finished run"));
}

TEST_CASE("Without --out, runs go to out_root/name/timestamp-sSEED", "[e2e]") {
  TempDir dir;
  auto sets = tiny_sets(dir);
  sets.push_back("train.epochs=1");
  sets.push_back("name=tiny");
  sets.push_back("seed=3");
  sets.push_back("out_root=" + (dir.path() / "runs").string());
  const auto a = esrun::run(esrun::RunRequest{{}, sets, std::nullopt});
  const auto b = esrun::run(esrun::RunRequest{{}, sets, std::nullopt});
  CHECK(a.run_dir.parent_path() == dir.path() / "runs" / "tiny");
  CHECK_THAT(a.run_dir.filename().string(), Contains("-s3"));
  CHECK(a.run_dir != b.run_dir);
}

TEST_CASE("The esrun command exits non-zero with one clear message on bad input", "[e2e][cli]") {
  TempDir dir;
  const auto bad = esrun::testing::write_file(dir / "bad.yaml", "train:\n  epochs: -2\n");
  const std::string log = dir / "log.txt";
  const int status = std::system((std::string(ESRUN_BINARY) + " validate --config " + bad + " > " + log + " 2>&1").c_str());
  CHECK(WEXITSTATUS(status) == 2);
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  CHECK_THAT(text.str(), Contains("train.epochs (" + bad + ":2): expected an integer >= 1, got -2"));
  const int ok = std::system((std::string(ESRUN_BINARY) + " validate > " + log + " 2>&1").c_str());
  CHECK(WEXITSTATUS(ok) == 0);
}

TEST_CASE("Every command-line error exits 2 naming what was wrong, --help and --version 0", "[e2e][cli]") {
  TempDir dir;
  const std::string log = dir / "log.txt";
  const auto exit_code = [&](const std::string& arguments) {
    const int status = std::system((std::string(ESRUN_BINARY) + " " + arguments + " > " + log + " 2>&1").c_str());
    return WEXITSTATUS(status);
  };
  const auto output = [&] {
    std::ifstream in(log);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  };
  CHECK(exit_code("frobnicate") == 2);  // an unknown subcommand (CLI11's own code is 109)
  CHECK_THAT(output(), Contains("frobnicate"));
  CHECK(exit_code("validate --no-such-flag") == 2);
  CHECK_THAT(output(), Contains("--no-such-flag"));
  CHECK(exit_code("--stop-after-epochs many") == 2);
  CHECK_THAT(output(), Contains("many"));
  CHECK(exit_code("print-config --format toml") == 2);
  CHECK(exit_code("--set") == 2);
  CHECK(exit_code("--help") == 0);
  CHECK_THAT(output(), Contains("--config"));
  CHECK(exit_code("--version") == 0);
}

#ifdef ESRUN_WITH_OPENCV
TEST_CASE("The default (quickstart) configuration runs on synthetic shapes", "[e2e][synthetic]") {
  TempDir dir;
  const auto result = esrun::run(esrun::RunRequest{
      {}, {"data.synthetic={train_size: 256, test_size: 64}", "train.epochs=1", "model.width=8", "threads=2"}, dir / "run"});
  CHECK(esrun::testing::metrics(result).size() == 1);
  CHECK(result.summary["samples_backward_total"] == 256);
  const auto again = esrun::run(esrun::RunRequest{
      {}, {"data.synthetic={train_size: 256, test_size: 64}", "train.epochs=1", "model.width=8", "threads=2"}, dir / "again"});
  CHECK(without_times(esrun::testing::metrics(again)[0]) ==
        without_times(esrun::testing::metrics(result)[0]));
}
#else
TEST_CASE("synthetic_shapes and image_folder without OpenCV are a clear error", "[e2e][synthetic]") {
  TempDir dir;
  REQUIRE_THROWS_WITH(esrun::run(esrun::RunRequest{{}, {}, dir / "run"}), Contains("ESRUN_WITH_OPENCV=OFF"));
  const std::vector<std::string> folder = {"data.name=image_folder", "data.root=" + dir.path().string()};
  REQUIRE_THROWS_WITH(esrun::run(esrun::RunRequest{{}, folder, dir / "folder"}),
                      Contains("image_folder") && Contains("ESRUN_WITH_OPENCV=OFF"));
}
#endif

TEST_CASE("bench reports every phase's throughput at the meta-batch size", "[e2e][bench]") {
  TempDir dir;
  const auto report = esrun::bench_throughput(esrun::RunRequest{{}, tiny_sets(dir), std::nullopt}, {3, 1});
  CHECK(report["batch"] == 32);
  CHECK(report["steps"] == 3);
  for (const char* phase : {"data", "score_forward", "train_step"}) {
    CHECK(report[phase]["seconds_per_step"].get<double>() > 0.0);
    CHECK(report[phase]["images_per_s"].get<double>() ==
          Approx(32.0 / report[phase]["seconds_per_step"].get<double>()));
  }
  CHECK(report["forward_over_train"].get<double>() > 0.0);
  // The step at b = 4, 8, ..., 32 of B = 32, the last the training step's own.
  REQUIRE(report["train_step_by_rows"].size() == 8);
  CHECK(report["train_step_by_rows"][0]["rows"] == 4);
  CHECK(report["train_step_by_rows"][7]["seconds_per_step"] == report["train_step"]["seconds_per_step"]);
  CHECK(report["break_even_ratio"].get<double>() >= 0.0);
  CHECK(report["break_even_ratio"].get<double>() <= 1.0);
  CHECK(report["policy_bookkeeping"].is_null());
  auto sets = tiny_sets(dir);
  sets.push_back("sampler.name=es");
  const auto large = esrun::bench_throughput(esrun::RunRequest{{}, sets, std::nullopt}, {3, 1, 100000});
  CHECK(large["policy_bookkeeping"]["train_size"] == 100000);
  CHECK(large["policy_bookkeeping"]["share_of_train_step"].get<double>() > 0.0);
  REQUIRE_THROWS_WITH(esrun::bench_throughput(esrun::RunRequest{{}, tiny_sets(dir), std::nullopt}, {0, 1}),
                      Contains("expected --steps > 0"));
}

TEST_CASE("The break-even b/B is where a forward and a small step cost a full step", "[bench]") {
  using esrun::StepCost;
  // step(b) = 1 + b/64 s: with a 0.5 s forward the small step may cost 1.5 s, b = 32 of 64.
  std::vector<StepCost> linear;
  for (int64_t b = 8; b <= 64; b += 8) linear.push_back({b, 1.0 + static_cast<double>(b) / 64.0});
  CHECK(esrun::break_even_ratio(0.5, linear, 64) == Approx(0.5));
  CHECK(esrun::break_even_ratio(1.2, linear, 64) == 0.0);  // 2 - 1.2 < step(8) = 1.125: selection never pays
  CHECK(esrun::break_even_ratio(0.0, linear, 64) == Approx(1.0));
  // A flat start (a small step costs as much as a larger one): 1.25 s lies half-way from 16 to 32 rows.
  const std::vector<StepCost> flat = {{64, 2.0}, {32, 1.5}, {8, 1.0}, {16, 1.0}};
  CHECK(esrun::break_even_ratio(0.75, flat, 64) == Approx(24.0 / 64.0));
  // Noisy timings that do not grow with the rows: the largest b within budget (48 rows at 1.2 s),
  // not the first crossing (between 16 and 32): 48 + 16 * (1.4 - 1.2) / (2.0 - 1.2) = 52 rows.
  const std::vector<StepCost> noisy = {{16, 1.0}, {32, 1.6}, {48, 1.2}, {64, 2.0}};
  CHECK(esrun::break_even_ratio(0.6, noisy, 64) == Approx(52.0 / 64.0));
}
