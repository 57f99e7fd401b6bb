#include <catch2/catch.hpp>

#include "esrun/commands/run.h"
#include "esrun/core/rng.h"
#include "esrun/data/dataset.h"
#include "esrun/data/label_noise.h"
#include "esrun/data/transforms.h"
#include "helpers.h"

using Catch::Matchers::Contains;
using esrun::testing::TempDir;

namespace {
esrun::RunConfig config_with(const std::vector<std::string>& sets) {
  return esrun::load_config(esrun::RunRequest{{}, sets, std::nullopt});
}
}  // namespace

TEST_CASE("CIFAR-10 reads the official five batches and the test batch", "[data][cifar]") {
  TempDir dir;
  esrun::testing::write_cifar10_layout(dir.path(), 7, 5);
  const auto data = esrun::load_dataset(config_with({"data.name=cifar10", "data.root=" + dir.path().string()}));
  CHECK(data.num_classes == 10);
  CHECK(data.train.size() == 35);
  CHECK(data.test.size() == 5);
  CHECK(data.train.inputs.sizes() == torch::IntArrayRef({35, 3, 32, 32}));
  CHECK(data.train.inputs.dtype() == torch::kUInt8);
  CHECK(data.train.targets[7].item<int64_t>() == 0);  // first record of data_batch_2
  CHECK(data.train.targets[8].item<int64_t>() == 1);
  CHECK(data.train.source_index[34].item<int64_t>() == 34);
  CHECK_FALSE(data.noisy_mask.any().item<bool>());
}

TEST_CASE("CIFAR pixels are the R, G, B planes of the record", "[data][cifar]") {
  TempDir dir;
  std::string record(1 + 3072, '\0');
  record[0] = 3;
  record[1 + 0] = 11;            // R(0, 0)
  record[1 + 1024 + 33] = 22;    // G(1, 1)
  record[1 + 2048 + 1023] = 33;  // B(31, 31)
  esrun::testing::write_file(dir / "one.bin", record);
  const auto data = esrun::load_dataset(config_with(
      {"data.name=cifar10", "data.root=" + dir.path().string(), "data.train_files=[one.bin]", "data.test_files=[one.bin]"}));
  const auto image = data.train.inputs[0];
  CHECK(image[0][0][0].item<int>() == 11);
  CHECK(image[1][1][1].item<int>() == 22);
  CHECK(image[2][31][31].item<int>() == 33);
  CHECK(data.train.targets[0].item<int64_t>() == 3);
}

TEST_CASE("CIFAR-100 reads fine labels by default and coarse labels on request", "[data][cifar]") {
  TempDir dir;
  esrun::testing::write_cifar(dir / "train.bin", {19, 29, 99, 0}, 2);
  esrun::testing::write_cifar(dir / "test.bin", {7}, 2);
  const std::string root = "data.root=" + dir.path().string();
  const auto fine = esrun::load_dataset(config_with({"data.name=cifar100", root}));
  CHECK(fine.num_classes == 100);
  CHECK(fine.train.targets.equal(torch::tensor({19, 29, 99, 0}, torch::kLong)));
  const auto coarse = esrun::load_dataset(config_with({"data.name=cifar100", root, "data.label=coarse"}));
  CHECK(coarse.num_classes == 20);
  CHECK(coarse.train.targets.equal(torch::tensor({3, 5, 19, 0}, torch::kLong)));
}

TEST_CASE("A truncated CIFAR file is an error naming the file", "[data][cifar][errors]") {
  TempDir dir;
  esrun::testing::write_cifar10_layout(dir.path(), 4, 2);
  esrun::testing::write_file(dir / "data_batch_3.bin", std::string(3073 * 2 + 100, '\1'));
  REQUIRE_THROWS_WITH(esrun::load_dataset(config_with({"data.name=cifar10", "data.root=" + dir.path().string()})),
                      Contains("data_batch_3.bin' has 6246 bytes, not a whole number of 3073-byte records"));
}

TEST_CASE("A missing file of the official layout is an error, never skipped", "[data][cifar][errors]") {
  TempDir dir;
  esrun::testing::write_cifar10_layout(dir.path(), 4, 2);
  std::filesystem::remove(dir.path() / "data_batch_5.bin");
  REQUIRE_THROWS_WITH(esrun::load_dataset(config_with({"data.name=cifar10", "data.root=" + dir.path().string()})),
                      Contains("data_batch_5.bin' is missing or unreadable"));
}

TEST_CASE("A missing dataset directory is an error naming the key, its origin and the folder", "[data][cifar][errors]") {
  const auto config = config_with({"data.name=cifar100", "data.root=/nonexistent/cifar"});  // the config itself is fine
  REQUIRE_THROWS_WITH(esrun::check_environment(config),
                      Contains("data.root (--set data.root=/nonexistent/cifar): dataset directory '/nonexistent/cifar' does not exist"));
}

TEST_CASE("A CIFAR label out of range names the file and record", "[data][cifar][errors]") {
  TempDir dir;
  esrun::testing::write_cifar(dir / "x.bin", {1, 2, 12}, 1);
  REQUIRE_THROWS_WITH(
      esrun::load_dataset(config_with({"data.name=cifar10", "data.root=" + dir.path().string(),
                                       "data.train_files=[x.bin]", "data.test_files=[x.bin]"})),
      Contains("x.bin', record 2: label 12 is out of range [0, 10)"));
}

TEST_CASE("Subsets take a seeded random N of a split", "[data]") {
  TempDir dir;
  esrun::testing::write_cifar10_layout(dir.path(), 20, 10);
  const std::vector<std::string> base{"data.name=cifar10", "data.root=" + dir.path().string(), "data.train_subset=30",
                                      "data.test_subset=4"};
  const auto a = esrun::load_dataset(config_with(base));
  CHECK(a.train.size() == 30);
  CHECK(a.test.size() == 4);
  const auto again = esrun::load_dataset(config_with(base));
  CHECK(a.train.source_index.equal(again.train.source_index));
  auto other_seed = base;
  other_seed.push_back("seed=5");
  CHECK_FALSE(a.train.source_index.equal(esrun::load_dataset(config_with(other_seed)).train.source_index));
  auto too_many = base;
  too_many.push_back("data.test_subset=11");
  REQUIRE_THROWS_WITH(esrun::load_dataset(config_with(too_many)),
                      Contains("data.test_subset (--set data.test_subset=11): asks for 11 samples but the split has only 10"));
}

TEST_CASE("Uniform label noise corrupts exactly round(ratio * n) labels, each to another class", "[data][noise]") {
  const auto labels = torch::arange(1000, torch::kLong).remainder(10);
  const esrun::LabelNoiseOptions options{esrun::NoiseKind::Uniform, 0.4, 7};
  const auto noisy = esrun::corrupt_labels(labels, 10, options);
  CHECK(noisy.mask.sum().item<int64_t>() == 400);
  CHECK(noisy.labels.ne(labels).sum().item<int64_t>() == 400);
  CHECK(noisy.labels.ne(labels).equal(noisy.mask));
  // Every other class is reachable: the noisy labels of class 0 samples cover classes 1..9.
  const auto from_zero = noisy.labels.masked_select(noisy.mask & labels.eq(0));
  CHECK(std::get<0>(at::_unique(from_zero)).size(0) == 9);
  CHECK(esrun::corrupt_labels(labels, 10, options).labels.equal(noisy.labels));  // seeded
}

TEST_CASE("Flip label noise maps class c to c + 1 mod K", "[data][noise]") {
  const auto labels = torch::arange(200, torch::kLong).remainder(5);
  const auto noisy = esrun::corrupt_labels(labels, 5, {esrun::NoiseKind::Flip, 0.1, 3});
  CHECK(noisy.mask.sum().item<int64_t>() == 20);
  const auto expected = torch::where(noisy.mask, (labels + 1).remainder(5), labels);
  CHECK(noisy.labels.equal(expected));
}

TEST_CASE("Label noise applies to the training split only and keeps the mask", "[data][noise]") {
  TempDir dir;
  esrun::testing::write_cifar10_layout(dir.path(), 20, 10);
  const auto data = esrun::load_dataset(config_with({"data.name=cifar10", "data.root=" + dir.path().string(),
                                                     "data.label_noise={kind: uniform, ratio: 0.2}"}));
  CHECK(data.noisy_mask.sum().item<int64_t>() == 20);
  CHECK(data.train.targets.ne(data.clean_labels).equal(data.noisy_mask));
  CHECK(data.test.targets.equal(torch::arange(10, torch::kLong)));
}

TEST_CASE("Random crop keeps the shape and shifts content by the drawn offset", "[data][augment]") {
  const auto images = torch::arange(2 * 3 * 8 * 8, torch::kLong).remainder(251).to(torch::kUInt8).view({2, 3, 8, 8});
  const auto center = esrun::crop_at(images, 2, torch::tensor({2, 2}), torch::tensor({2, 2}));
  CHECK(center.equal(images));
  const auto shifted = esrun::crop_at(images, 2, torch::tensor({0, 4}), torch::tensor({1, 2}));
  CHECK(shifted.sizes() == images.sizes());
  // Image 0 moved down 2 rows and right 1 column, zero-filled where it came from the padding.
  CHECK(shifted[0].narrow(1, 2, 6).narrow(2, 1, 7).equal(images[0].narrow(1, 0, 6).narrow(2, 0, 7)));
  CHECK(shifted[0].narrow(1, 0, 2).sum().item<int64_t>() == 0);
  // Image 1 moved up 2 rows, not sideways.
  CHECK(shifted[1].narrow(1, 0, 6).equal(images[1].narrow(1, 2, 6)));
  auto gen = esrun::make_generator(1, "test");
  CHECK(esrun::random_crop(images, 4, gen).sizes() == images.sizes());
}

TEST_CASE("Flip mirrors exactly the chosen images", "[data][augment]") {
  const auto images = torch::rand({3, 3, 4, 5});
  const auto out = esrun::flip_where(images, torch::tensor({true, false, true}));
  CHECK(out[0].equal(images[0].flip({2})));
  CHECK(out[1].equal(images[1]));
  CHECK(out[2][1][2][0].item<float>() == images[2][1][2][4].item<float>());
  auto gen = esrun::make_generator(3, "test");
  const auto many = torch::rand({2000, 1, 1, 2});
  const auto flipped = esrun::random_flip(many, gen).ne(many).any(3).flatten().to(torch::kFloat).mean().item<float>();
  CHECK(flipped == Approx(0.5).margin(0.05));
}

TEST_CASE("Normalisation gives (x / 255 - mean) / std per channel", "[data][augment]") {
  const esrun::Normalizer normalize({0.5, 0.25}, {0.5, 0.25}, true, torch::kCPU);
  const auto images = torch::full({1, 2, 1, 1}, 255, torch::kUInt8);
  const auto out = normalize(images);
  CHECK(out.dtype() == torch::kFloat);
  CHECK(out[0][0][0][0].item<float>() == Approx(1.0));
  CHECK(out[0][1][0][0].item<float>() == Approx(3.0));
  const esrun::Normalizer scale_only({0.5, 0.25}, {0.5, 0.25}, false, torch::kCPU);
  CHECK(scale_only(images)[0][1][0][0].item<float>() == Approx(1.0));
}

#ifdef ESRUN_WITH_OPENCV
TEST_CASE("synthetic_shapes is deterministic from the seed and covers every class", "[data][synthetic]") {
  const std::vector<std::string> sets{"data.synthetic={train_size: 300, test_size: 50, classes: 8, image_size: 24}"};
  const auto a = esrun::load_dataset(config_with(sets));
  const auto b = esrun::load_dataset(config_with(sets));
  CHECK(a.train.inputs.sizes() == torch::IntArrayRef({300, 3, 24, 24}));
  CHECK(a.train.inputs.equal(b.train.inputs));
  CHECK(a.train.targets.equal(b.train.targets));
  CHECK(std::get<0>(at::_unique(a.train.targets)).size(0) == 8);
  CHECK(a.mean.size() == 3);
  auto other = sets;
  other.push_back("seed=9");
  CHECK_FALSE(esrun::load_dataset(config_with(other)).train.inputs.equal(a.train.inputs));
}
#endif
