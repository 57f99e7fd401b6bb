// The opt-in tier on the real datasets in ../shared/data: run with ESRUN_DATA_DIR pointing there
// (ctest -L data, or esrun_tests "[.data]").
#include <catch2/catch.hpp>

#include <cstdlib>

#include "esrun/commands/run.h"
#include "esrun/data/dataset.h"
#include "helpers.h"

namespace {
std::string data_dir() {
  const char* dir = std::getenv("ESRUN_DATA_DIR");
  REQUIRE(dir != nullptr);
  return dir;
}
esrun::RunConfig config_with(const std::vector<std::string>& sets) {
  return esrun::load_config(esrun::RunRequest{{}, sets, std::nullopt});
}
}  // namespace

TEST_CASE("Real CIFAR-100 has 50000/10000 records with the official first fine labels", "[.data]") {
  const auto data = esrun::load_dataset(config_with({"data.name=cifar100", "data.root=" + data_dir() + "/cifar-100-binary"}));
  CHECK(data.train.size() == 50000);
  CHECK(data.test.size() == 10000);
  CHECK(data.num_classes == 100);
  CHECK(data.train.targets[0].item<int64_t>() == 19);
  CHECK(data.train.targets[1].item<int64_t>() == 29);
  CHECK(data.train.targets.min().item<int64_t>() == 0);
  CHECK(data.train.targets.max().item<int64_t>() == 99);
  CHECK(torch::bincount(data.train.targets).eq(500).all().item<bool>());
  const auto coarse =
      esrun::load_dataset(config_with({"data.name=cifar100", "data.label=coarse", "data.root=" + data_dir() + "/cifar-100-binary"}));
  CHECK(coarse.train.targets.max().item<int64_t>() == 19);
}

TEST_CASE("The CIFAR-10 subset reads with explicit file lists and refuses the partial official layout", "[.data]") {
  const std::string root = "data.root=" + data_dir() + "/cifar-10-subset";
  const auto data = esrun::load_dataset(
      config_with({"data.name=cifar10", root, "data.train_files=[data_batch_1.bin]", "data.test_files=[test_batch.first1000.bin]"}));
  CHECK(data.train.size() == 10000);
  CHECK(data.test.size() == 1000);
  CHECK(data.train.targets.narrow(0, 0, 5).equal(torch::tensor({6, 9, 9, 4, 1}, torch::kLong)));
  CHECK(data.train.targets.max().item<int64_t>() == 9);
  REQUIRE_THROWS_WITH(esrun::load_dataset(config_with({"data.name=cifar10", root})),
                      Catch::Matchers::Contains("data_batch_2.bin' is missing"));
}

TEST_CASE("One short epoch of ResNet-18 and small_cnn on real CIFAR", "[.data]") {
  esrun::testing::TempDir dir;
  const auto cifar100 = esrun::run(esrun::RunRequest{
      {std::string(ESRUN_SOURCE_DIR) + "/configs/cifar100_uniform.yaml"},
      {"data.root=" + data_dir() + "/cifar-100-binary", "train.epochs=1", "data.train_subset=256", "data.test_subset=256",
       "sampler.meta_batch=64"},
      dir / "r18"});
  CHECK(cifar100.summary["samples_backward_total"] == 256);
  const auto cifar10 = esrun::run(esrun::RunRequest{
      {std::string(ESRUN_SOURCE_DIR) + "/configs/cifar10_subset_small_cnn.yaml"},
      {"data.root=" + data_dir() + "/cifar-10-subset", "train.epochs=1", "data.train_subset=2000"}, dir / "cnn"});
  CHECK(cifar10.summary["samples_backward_total"] == 2000);
  CHECK(cifar10.summary["final_test_acc"].get<double>() > 0.15);  // chance is 0.1
}

TEST_CASE("UCI Bike Sharing reads as AdaSelection uses it and trains as configs/bike_mlp.yaml", "[.data]") {
  const std::string root = data_dir() + "/bike_sharing";
  const std::string config = std::string(ESRUN_SOURCE_DIR) + "/configs/bike_mlp.yaml";
  const auto data = esrun::load_dataset(esrun::load_config(esrun::RunRequest{{config}, {"data.root=" + root}, std::nullopt}));
  CHECK(data.task == "regression");
  CHECK(data.train.size() + data.test.size() == 731);
  CHECK(data.test.size() == 146);  // round(0.2 * 731)
  // 16 columns less cnt, instant, dteday, casual and registered: 11 numeric features.
  CHECK(data.input_shape() == std::vector<int64_t>{11});
  // cnt of day 1 (2011-01-01) is 985: un-standardised targets give the file's counts back.
  const auto first = data.train.source_index.eq(0).nonzero();
  if (first.numel() > 0) {
    const auto row = first[0][0].item<int64_t>();
    CHECK(data.train.targets[row].item<double>() * data.target_std + data.target_mean == Approx(985.0));
  }
  const auto hourly = esrun::load_dataset(esrun::load_config(esrun::RunRequest{
      {std::string(ESRUN_SOURCE_DIR) + "/configs/bike_hour_mlp.yaml"}, {"data.root=" + root}, std::nullopt}));
  CHECK(hourly.train.size() + hourly.test.size() == 17379);
  esrun::testing::TempDir dir;
  const auto result = esrun::run(esrun::RunRequest{{config}, {"data.root=" + root, "train.epochs=100", "threads=2"}, dir / "run"});
  CHECK(result.summary["final_test_r2"].get<double>() > 0.6);
}
