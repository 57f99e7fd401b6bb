// Precision, memory layout, where the training set lives and how phases are timed: the CPU side
// runs in CI, the CUDA side in the [.gpu] tier (a CUDA device).
#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

#include "esrun/commands/run.h"
#include "esrun/core/device.h"
#include "esrun/core/rng.h"
#include "esrun/core/timer.h"
#include "esrun/data/transforms.h"
#include "esrun/train/trainer.h"
#include "helpers.h"

using Catch::Matchers::Contains;
using esrun::testing::TempDir;
using esrun::testing::metrics;
using esrun::testing::without_times;

namespace {

std::vector<std::string> tiny(const TempDir& dir, std::vector<std::string> extra = {}) {
  esrun::testing::write_cifar10_layout(dir.path() / "cifar", 40, 40);
  std::vector<std::string> sets = {"data.name=cifar10", "data.root=" + (dir.path() / "cifar").string(),
                                   "model={name: small_cnn, width: 8}", "train.epochs=3", "threads=2",
                                   "sampler={name: es, meta_batch: 32}"};
  sets.insert(sets.end(), extra.begin(), extra.end());
  return sets;
}

}  // namespace

TEST_CASE("precision and channels_last are validated", "[config][precision]") {
  TempDir dir;
  REQUIRE_THROWS_WITH(esrun::load_config(esrun::RunRequest{{}, tiny(dir, {"precision=fp8"}), std::nullopt}),
                      Contains("precision") && Contains("fp32, bf16, fp16"));
  REQUIRE_THROWS_WITH(esrun::load_config(esrun::RunRequest{{}, tiny(dir, {"precision=fp16", "device=cpu"}), std::nullopt}),
                      Contains("fp16 needs a CUDA device"));
  REQUIRE_THROWS_WITH(esrun::load_config(esrun::RunRequest{{}, tiny(dir, {"channels_last=maybe"}), std::nullopt}),
                      Contains("channels_last"));
  REQUIRE_THROWS_WITH(esrun::load_config(esrun::RunRequest{{}, tiny(dir, {"data.on_device=yes"}), std::nullopt}),
                      Contains("data.on_device"));
  if (!torch::cuda::is_available()) {
    REQUIRE_THROWS_WITH(esrun::run(esrun::RunRequest{{}, tiny(dir, {"precision=fp16"}), dir / "fp16"}),
                        Contains("fp16 needs a CUDA device"));
  }
}

TEST_CASE("bf16 autocast trains on the CPU with fp32 losses and learns", "[e2e][precision]") {
  TempDir dir;
  const auto fp32 = esrun::run(esrun::RunRequest{{}, tiny(dir, {"train.epochs=6"}), dir / "fp32"});
  const auto bf16 = esrun::run(esrun::RunRequest{{}, tiny(dir, {"train.epochs=6", "precision=bf16"}), dir / "bf16"});
  const auto a = metrics(fp32), b = metrics(bf16);
  REQUIRE(b.size() == 6);
  CHECK(b.back()["train_loss"].get<double>() < b.front()["train_loss"].get<double>());
  // Not bit-identical to fp32 (convolutions round to bf16), but the same training.
  CHECK(b.back()["train_loss"].get<double>() == Approx(a.back()["train_loss"].get<double>()).epsilon(0.15));
  CHECK(a != b);
}

TEST_CASE("channels_last gives the same training as the default layout", "[e2e][precision]") {
  TempDir dir;
  const auto plain = esrun::run(esrun::RunRequest{{}, tiny(dir), dir / "plain"});
  const auto last = esrun::run(esrun::RunRequest{{}, tiny(dir, {"channels_last=true"}), dir / "last"});
  const auto a = metrics(plain), b = metrics(last);
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    CHECK(b[i]["samples_backward"] == a[i]["samples_backward"]);
    CHECK(b[i]["train_loss"].get<double>() == Approx(a[i]["train_loss"].get<double>()).epsilon(1e-3));
  }
}

TEST_CASE("data.on_device: false trains exactly like true", "[e2e][precision]") {
  // On the CPU both keep the images in host memory; the paths differ in where the plan and the
  // batch tensors live and how they are copied (the [.gpu] tier compares them on CUDA).
  TempDir dir;
  const auto on = esrun::run(esrun::RunRequest{{}, tiny(dir, {"data.on_device=true"}), dir / "on"});
  const auto off = esrun::run(esrun::RunRequest{{}, tiny(dir, {"data.on_device=false"}), dir / "off"});
  CHECK(without_times(metrics(off)) == without_times(metrics(on)));
}

TEST_CASE("timing: epoch records epoch totals and leaves the phases null", "[e2e][precision]") {
  TempDir dir;
  const auto result = esrun::run(esrun::RunRequest{{}, tiny(dir, {"timing=epoch"}), dir / "epoch"});
  for (const auto& record : metrics(result)) {
    CHECK(record["time"]["data"].is_null());
    CHECK(record["time"]["train_step"].is_null());
    CHECK(record["time"]["epoch_total"].get<double>() > 0);
    CHECK(record["time"]["eval"].get<double>() > 0);
  }
  const auto phases = esrun::run(esrun::RunRequest{{}, tiny(dir, {"timing=phases"}), dir / "phases"});
  CHECK(metrics(phases).front()["time"]["train_step"].get<double>() > 0);
}

TEST_CASE("The scoring forward runs in inference mode, in train-mode BatchNorm, and leaves the statistics alone",
          "[precision][score]") {
  TempDir dir;
  const auto config = esrun::load_config(esrun::RunRequest{{}, tiny(dir, {"model={name: resnet18, width: 4}"}), std::nullopt});
  esrun::Trainer trainer(config, esrun::load_dataset(config), torch::kCPU);
  const auto before = trainer.model().buffers();
  std::vector<torch::Tensor> saved;
  for (const auto& b : before) saved.push_back(b.clone());
  const esrun::Batch batch = trainer.make_batch(torch::arange(16, torch::kLong), 0);
  const esrun::Scores scores = trainer.score(batch);
  CHECK(scores.losses.is_inference());
  CHECK_FALSE(scores.losses.requires_grad());
  for (size_t i = 0; i < saved.size(); ++i) CHECK(torch::equal(trainer.model().buffers()[i], saved[i]));
  // The same losses as a plain no-grad forward with batch statistics.
  torch::Tensor expected;
  {
    torch::NoGradGuard no_grad;
    expected = torch::nn::functional::cross_entropy(
        trainer.model().forward(batch.inputs), batch.targets,
        torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
  }
  CHECK(torch::allclose(scores.losses, expected, 1e-5, 1e-6));
}

TEST_CASE("Random numbers reach the device unchanged through the asynchronous copy", "[precision]") {
  const auto host = torch::rand({1000}, esrun::make_generator(3, "test"), torch::kDouble);
  CHECK(torch::equal(esrun::to_device_async(host, torch::kCPU), host));
}

TEST_CASE("The augmentation gives the same batch on the GPU as on the CPU for a fixed seed", "[.gpu]") {
  const auto images = torch::randint(0, 256, {64, 3, 32, 32}, torch::kLong).to(torch::kUInt8);
  esrun::AugmentOptions options;
  const torch::Device cuda(torch::kCUDA, 0);
  const esrun::TrainAugment cpu_augment(options, esrun::Normalizer({0.5, 0.4, 0.3}, {0.2, 0.2, 0.2}, true, torch::kCPU));
  const esrun::TrainAugment gpu_augment(options, esrun::Normalizer({0.5, 0.4, 0.3}, {0.2, 0.2, 0.2}, true, cuda));
  auto a = esrun::make_generator(7, "augment"), b = esrun::make_generator(7, "augment");
  const auto on_cpu = cpu_augment(images, a);
  const auto on_gpu = gpu_augment(images.to(cuda), b).cpu();
  CHECK(torch::allclose(on_cpu, on_gpu, 0, 1e-6));
}

TEST_CASE("On CUDA, bf16 and channels_last train and data on the device equals CPU-built batches", "[.gpu]") {
  TempDir dir;
  const auto on = esrun::run(
      esrun::RunRequest{{}, tiny(dir, {"device=cuda", "data.on_device=true", "cudnn_benchmark=false"}), dir / "on"});
  const auto off = esrun::run(
      esrun::RunRequest{{}, tiny(dir, {"device=cuda", "data.on_device=false", "cudnn_benchmark=false"}), dir / "off"});
  const auto a = metrics(on), b = metrics(off);
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    CHECK(b[i]["samples_backward"] == a[i]["samples_backward"]);
    CHECK(b[i]["train_loss"].get<double>() == Approx(a[i]["train_loss"].get<double>()).epsilon(1e-3));
  }
  const auto bf16 = esrun::run(
      esrun::RunRequest{{}, tiny(dir, {"device=cuda", "precision=bf16", "channels_last=true"}), dir / "bf16"});
  CHECK(metrics(bf16).back()["train_loss"].get<double>() < metrics(bf16).front()["train_loss"].get<double>());
  const auto fp16 = esrun::run(esrun::RunRequest{{}, tiny(dir, {"device=cuda", "precision=fp16"}), dir / "fp16"});
  CHECK(std::isfinite(metrics(fp16).back()["train_loss"].get<double>()));
}

TEST_CASE("On CUDA, phase times come from CUDA events and add up to no more than the epoch", "[.gpu]") {
  TempDir dir;
  const auto run = esrun::run(esrun::RunRequest{{}, tiny(dir, {"device=cuda", "timing=auto"}), dir / "events"});
  for (const auto& record : metrics(run)) {
    const auto& t = record["time"];
    REQUIRE(t["train_step"].is_number());
    CHECK(t["train_step"].get<double>() > 0);
    CHECK(t["score_forward"].get<double>() > 0);
    const double phases = t["data"].get<double>() + t["score_forward"].get<double>() + t["select"].get<double>() +
                          t["train_step"].get<double>();
    CHECK(phases <= t["epoch_total"].get<double>() * 1.01);
  }
}

TEST_CASE("The phase clock charges each interval to its phase", "[precision]") {
  esrun::PhaseClock clock(torch::kCPU);
  double first = 0, second = 0, skipped = 0;
  clock.restart();
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  clock.lap(first);
  std::this_thread::sleep_for(std::chrono::milliseconds(15));
  clock.lap(second);
  clock.lap(first);
  clock.settle();
  CHECK(first >= 0.005);
  CHECK(second >= 0.015);
  CHECK(skipped == 0);
  esrun::PhaseClock off(torch::kCPU, false);
  off.lap(skipped);
  off.settle();
  CHECK(skipped == 0);
}
