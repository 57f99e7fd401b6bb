// File-backed datasets: the worker-thread loader (with a stand-in decoder, so it runs in every
// build) and the image_folder dataset on small image trees the tests write with OpenCV.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <thread>

#include "esrun/commands/run.h"
#include "esrun/core/error.h"
#include "esrun/data/dataset.h"
#include "esrun/data/file_loader.h"
#include "helpers.h"

#ifdef ESRUN_WITH_OPENCV
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#endif

using Catch::Matchers::Contains;
using esrun::testing::TempDir;

namespace {

// Files named "0".."n-1"; image i is filled with a value of i and the seed, after a short,
// uneven pause so that workers finish out of order. Counts decodes.
std::shared_ptr<esrun::ImageFiles> counting_files(int64_t n, std::atomic<int64_t>& decoded) {
  auto files = std::make_shared<esrun::ImageFiles>();
  for (int64_t i = 0; i < n; ++i) files->paths.push_back(std::to_string(i));
  files->channels = 1, files->height = 2, files->width = 2;
  files->decode = [&decoded](const std::string& path, uint64_t seed, uint8_t* out) {
    if (path == "13") throw esrun::Error("could not decode '" + path + "'");
    const int i = std::stoi(path);
    std::this_thread::sleep_for(std::chrono::microseconds((i * 37) % 300));
    for (int p = 0; p < 4; ++p) out[p] = static_cast<uint8_t>((i * 11 + seed % 97 + p) % 256);
    ++decoded;
  };
  return files;
}

std::vector<esrun::BatchRequest> batches_of(int64_t count, int64_t size, uint64_t first_seed) {
  std::vector<esrun::BatchRequest> out;
  for (int64_t b = 0; b < count; ++b)
    out.push_back({torch::arange(b * size, (b + 1) * size, torch::kLong).flip(0), first_seed + static_cast<uint64_t>(b)});
  return out;
}

template <typename Predicate>
bool eventually(Predicate done) {
  for (int i = 0; i < 500 && !done(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return done();
}

}  // namespace

TEST_CASE("The file loader gives the same batches for any number of workers, announced or not", "[loader]") {
  std::atomic<int64_t> decoded{0};
  const auto files = counting_files(12, decoded);
  const auto requests = batches_of(4, 3, 100);
  std::vector<torch::Tensor> reference;
  {
    esrun::ImageFileLoader one(files, 1, 1, false);
    for (const auto& r : requests) reference.push_back(one.load(r.indices, r.seed).clone());  // never announced
  }
  for (int workers : {2, 5}) {
    INFO("workers " << workers);
    esrun::ImageFileLoader loader(files, workers, 2, false);
    loader.announce(requests);
    for (size_t b = 0; b < requests.size(); ++b) {
      const auto batch = loader.load(requests[b].indices, requests[b].seed);
      CHECK(batch.sizes() == torch::IntArrayRef({3, 1, 2, 2}));
      CHECK(torch::equal(batch, reference[b]));
    }
  }
  // Image i of a batch draws from the batch seed and its row: another seed, other pixels.
  esrun::ImageFileLoader loader(files, 2, 2, false);
  CHECK_FALSE(torch::equal(loader.load(requests[0].indices, 7), reference[0]));
  // An unannounced request in the middle of a plan leaves the plan's batches as they were.
  loader.announce(requests);
  CHECK(torch::equal(loader.load(requests[0].indices, requests[0].seed), reference[0]));
  CHECK(torch::equal(loader.load(requests[3].indices, 5), loader.load(requests[3].indices, 5)));
  CHECK(torch::equal(loader.load(requests[1].indices, requests[1].seed), reference[1]));
}

TEST_CASE("The file loader decodes at most `prefetch` batches ahead of the consumer", "[loader]") {
  std::atomic<int64_t> decoded{0};
  const auto files = counting_files(40, decoded);
  esrun::ImageFileLoader loader(files, 4, 2, false);
  const auto requests = batches_of(10, 4, 0);
  loader.announce(requests);
  REQUIRE(eventually([&] { return decoded.load() == 8; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(decoded.load() == 8);  // two batches of four, and no more
  CHECK(loader.batches_ahead() == 2);
  loader.load(requests[0].indices, requests[0].seed);
  REQUIRE(eventually([&] { return decoded.load() == 12; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(decoded.load() == 12);
  // A new announcement drops what was decoded ahead for the old one.
  loader.announce({});
  CHECK(loader.batches_ahead() == 0);
}

TEST_CASE("A file that cannot be decoded fails the batch with the file's name", "[loader][errors]") {
  std::atomic<int64_t> decoded{0};
  esrun::ImageFileLoader loader(counting_files(16, decoded), 3, 2, false);
  loader.announce(batches_of(4, 4, 0));
  CHECK(loader.load(torch::arange(3, -1, -1, torch::kLong), 0).size(0) == 4);
  CHECK_NOTHROW(loader.load(torch::arange(7, 3, -1, torch::kLong), 1));
  CHECK_NOTHROW(loader.load(torch::arange(11, 7, -1, torch::kLong), 2));
  CHECK_THROWS_WITH(loader.load(torch::arange(15, 11, -1, torch::kLong), 3), Contains("could not decode '13'"));
  // The failed batch leaves the queue: unannounced requests still work.
  CHECK(loader.batches_ahead() == 0);
  CHECK_THROWS_WITH(loader.load(torch::tensor({12, 13}, torch::kLong), 0), Contains("could not decode '13'"));
  CHECK(loader.load(torch::tensor({12, 14}, torch::kLong), 0).size(0) == 2);
  CHECK_THROWS_WITH(loader.load(torch::tensor({99}, torch::kLong), 0), Contains("out of range"));
}

#ifdef ESRUN_WITH_OPENCV
namespace {

// <root>/train/<class>/ and <root>/val/<class>/ of solid-colour PNGs of uneven sizes, one colour
// per class (BGR as OpenCV writes), plus a file that is not an image.
const std::vector<std::pair<std::string, cv::Scalar>> kClasses = {
    {"apple", cv::Scalar(0, 0, 255)}, {"lime", cv::Scalar(0, 255, 0)}, {"sky", cv::Scalar(255, 0, 0)}};

void write_image_tree(const std::filesystem::path& root, int per_class_train = 8, int per_class_test = 3) {
  for (const auto& [split, count] : {std::pair<std::string, int>{"train", per_class_train}, {"val", per_class_test}}) {
    for (const auto& [name, colour] : kClasses) {
      const auto dir = root / split / name;
      std::filesystem::create_directories(dir / "more");
      for (int i = 0; i < count; ++i) {
        cv::Mat image(20 + 3 * (i % 5), 28 + 2 * (i % 4), CV_8UC3, colour);
        image(cv::Rect(i % 5, i % 7, 6, 4)).setTo(cv::Scalar(128, 128, 128));
        const auto folder = i % 3 == 0 ? dir / "more" : dir;  // nested folders count too
        REQUIRE(cv::imwrite((folder / ("img" + std::to_string(i) + ".png")).string(), image));
      }
      esrun::testing::write_file((dir / "README.txt").string(), "not an image");
    }
  }
}

std::vector<std::string> folder_sets(const TempDir& dir, std::vector<std::string> extra = {}) {
  std::vector<std::string> sets = {"data.name=image_folder", "data.root=" + (dir.path() / "images").string(),
                                   "data.image_folder={image_size: 16, resize: 18}", "data.loader.workers=3",
                                   "model={name: small_cnn, width: 8}", "train.epochs=2", "threads=2",
                                   "sampler={name: es, meta_batch: 8, anneal_epochs: 0}", "train.eval_batch=4"};
  sets.insert(sets.end(), extra.begin(), extra.end());
  return sets;
}

}  // namespace

TEST_CASE("image_folder labels classes by sorted folder name and decodes test images to RGB crops", "[data][image_folder]") {
  TempDir dir;
  write_image_tree(dir.path() / "images");
  const auto config = esrun::load_config(esrun::RunRequest{{}, folder_sets(dir), std::nullopt});
  const esrun::Dataset data = esrun::load_dataset(config);
  CHECK(data.num_classes == 3);
  REQUIRE(data.train.size() == 24);
  REQUIRE(data.test.size() == 9);
  CHECK_FALSE(data.train.in_memory());
  CHECK(data.train.targets.eq(torch::arange(3, torch::kLong).repeat_interleave(8)).all().item<bool>());
  CHECK(data.test.targets.eq(torch::arange(3, torch::kLong).repeat_interleave(3)).all().item<bool>());

  esrun::ImageFileLoader loader(data.test.files, 2, 2, false);
  const auto images = loader.load(torch::arange(9, torch::kLong), 0);
  REQUIRE(images.sizes() == torch::IntArrayRef({9, 3, 16, 16}));
  // The corner pixel keeps the class colour: apple is red, lime green, sky blue, in RGB order.
  for (int64_t i = 0; i < 9; ++i) {
    INFO("test image " << i);
    const int64_t label = data.test.targets[i].item<int64_t>();
    CHECK(images[i].select(2, 15).select(1, 15).argmax().item<int64_t>() == label);
    CHECK(images[i].select(2, 15).select(1, 15).max().item<int64_t>() == 255);
  }
  // Training crops: random, but a function of the seed alone.
  esrun::ImageFileLoader train(data.train.files, 3, 2, false);
  const auto rows = torch::arange(24, torch::kLong);
  CHECK(torch::equal(train.load(rows, 5), train.load(rows, 5)));
  CHECK_FALSE(torch::equal(train.load(rows, 5), train.load(rows, 6)));

  // A training subset keeps the files of the chosen samples.
  auto subset = folder_sets(dir, {"data.train_subset=10"});
  const auto small = esrun::load_dataset(esrun::load_config(esrun::RunRequest{{}, subset, std::nullopt}));
  REQUIRE(small.train.files->paths.size() == 10);
  for (int64_t i = 0; i < 10; ++i)
    CHECK(small.train.files->paths[static_cast<size_t>(i)] ==
          data.train.files->paths[static_cast<size_t>(small.train.source_index[i].item<int64_t>())]);
}

TEST_CASE("image_folder reports a missing folder, an unknown test class, an empty class and a broken image",
          "[data][image_folder][errors]") {
  TempDir dir;
  const auto images = dir.path() / "images";
  const auto load = [&](std::vector<std::string> extra = {}) {
    return esrun::load_dataset(esrun::load_config(esrun::RunRequest{{}, folder_sets(dir, extra), std::nullopt}));
  };
  CHECK_THROWS_WITH(load(), Contains("data.image_folder.train_dir") && Contains("does not exist"));
  write_image_tree(images);
  CHECK_THROWS_WITH(load({"data.image_folder.test_dir=test"}), Contains("data.image_folder.test_dir") && Contains("test"));
  std::filesystem::create_directories(images / "val" / "unicorn");
  CHECK_THROWS_WITH(load(), Contains("unicorn") && Contains("no counterpart in the training folder"));
  std::filesystem::remove_all(images / "val" / "unicorn");
  std::filesystem::create_directories(images / "train" / "empty");
  CHECK_THROWS_WITH(load(), Contains("empty") && Contains("holds no image files"));
  std::filesystem::remove_all(images / "train" / "empty");
  CHECK_THROWS_WITH(load({"data.image_folder.resize=8"}), Contains("data.image_folder.resize") && Contains("image_size"));
  CHECK_THROWS_WITH(esrun::run(esrun::RunRequest{{}, folder_sets(dir, {"data.on_device=true"}), dir / "on_device"}),
                    Contains("data.on_device") && Contains("decoded from files"));
  // A broken file fails the run at its batch, naming it.
  esrun::testing::write_file((images / "train" / "lime" / "broken.png").string(), "not a PNG at all");
  CHECK_THROWS_WITH(esrun::run(esrun::RunRequest{{}, folder_sets(dir), dir / "broken"}),
                    Contains("broken.png") && Contains("could not decode"));
}

TEST_CASE("Training on image_folder learns, and a run stopped mid-epoch resumes to the same metrics",
          "[e2e][image_folder][checkpoint]") {
  TempDir dir;
  write_image_tree(dir.path() / "images", 12, 4);
  const auto sets = folder_sets(dir, {"train.epochs=4", "optimizer.lr=0.05"});
  const auto whole = esrun::run(esrun::RunRequest{{}, sets, dir / "whole"});
  const auto records = esrun::testing::metrics(whole);
  REQUIRE(records.size() == 4);
  CHECK(records.back()["samples_backward"].get<int64_t>() < 36);  // ES trains on b of each B
  CHECK(whole.summary["final_test_acc"].get<double>() > 0.5);    // solid colours: easy

  const auto [part, invocations] = esrun::testing::run_in_pieces(sets, dir / "parts", 2, 3);
  REQUIRE(part.finished);
  CHECK(invocations > 2);
  CHECK(esrun::testing::without_times(esrun::testing::metrics(part)) ==
        esrun::testing::without_times(records));
}
#endif
