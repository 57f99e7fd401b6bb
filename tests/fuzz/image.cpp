// fuzz_image: image file decoding as image_folder runs it (data/image_folder.cpp): OpenCV's imread
// then the training transform (RandomResizedCrop + flip) and the test transform (resize the shorter
// side, centre crop), through the decode functions the dataset hands to its loader threads.
//
// Input: the image file's bytes (any format OpenCV reads: PNG, JPEG, BMP, PPM/PGM/PBM, TIFF, WebP,
// ...; imread goes by content, not by extension). A tiny image_folder dataset is built once at
// start-up (image_size 8, resize 10: small, so each execution is fast); each execution decodes the
// input with its training decoder (two seeds) and its test decoder.
//
// What counts: the decoders run only inside the loader's worker threads (data/file_loader.cpp),
// which turn any std::exception of a decode into an esrun::Error naming the file, so an OpenCV
// refusal (cv::Exception, e.g. a header claiming more than CV_IO_MAX_IMAGE_PIXELS) reaches the user
// as a clear error; the target catches std::exception as the loader does. Crashes, sanitizer
// reports, leaks, timeouts and out-of-memory remain findings.
#include "fuzz_common.h"

#ifdef ESRUN_WITH_OPENCV
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#endif

namespace {

std::shared_ptr<const esrun::ImageFiles>& train_files() {
  static std::shared_ptr<const esrun::ImageFiles> files;
  return files;
}
std::shared_ptr<const esrun::ImageFiles>& test_files() {
  static std::shared_ptr<const esrun::ImageFiles> files;
  return files;
}

#ifdef ESRUN_WITH_OPENCV
cv::Mat pattern(int rows, int cols, int type) {
  cv::Mat image(rows, cols, type);
  cv::randu(image, cv::Scalar::all(0), cv::Scalar::all(type == CV_16UC3 ? 65535 : 255));
  return image;
}

std::string encoded(const std::string& ext, const cv::Mat& image) {
  std::vector<uchar> bytes;
  if (!cv::imencode(ext, image, bytes)) return "";
  return std::string(bytes.begin(), bytes.end());
}
#endif

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  esrun_fuzz::quiet();
#ifdef ESRUN_WITH_OPENCV
  cv::setRNGSeed(7);
  if (const std::string dir = esrun_fuzz::seeds_dir(); !dir.empty()) {
    std::vector<std::pair<std::string, std::string>> seeds = {
        {"png-5x3", encoded(".png", pattern(3, 5, CV_8UC3))},
        {"png-gray-1x1", encoded(".png", pattern(1, 1, CV_8UC1))},
        {"png-rgba-4x4", encoded(".png", pattern(4, 4, CV_8UC4))},
        {"png-16bit-3x3", encoded(".png", pattern(3, 3, CV_16UC3))},
        {"png-wide-40x1", encoded(".png", pattern(1, 40, CV_8UC3))},
        {"png-tall-1x40", encoded(".png", pattern(40, 1, CV_8UC3))},
        {"jpg-7x4", encoded(".jpg", pattern(4, 7, CV_8UC3))},
        {"bmp-3x2", encoded(".bmp", pattern(2, 3, CV_8UC3))},
        {"ppm-2x2", encoded(".ppm", pattern(2, 2, CV_8UC3))},
        {"pgm-3x3", encoded(".pgm", pattern(3, 3, CV_8UC1))},
        {"tiff-2x3", encoded(".tiff", pattern(3, 2, CV_8UC3))},
        {"webp-4x4", encoded(".webp", pattern(4, 4, CV_8UC3))},
        {"pbm-text", "P1\n3 2\n1 0 1\n0 1 0\n"},
        {"ppm-huge-header", "P6\n65535 65535\n255\n\x01\x02\x03"},
    };
    const std::string png = encoded(".png", pattern(6, 6, CV_8UC3)), jpg = encoded(".jpg", pattern(8, 8, CV_8UC3));
    seeds.emplace_back("png-truncated", png.substr(0, png.size() / 2));
    seeds.emplace_back("jpg-truncated", jpg.substr(0, jpg.size() - 20));
    std::erase_if(seeds, [](const auto& seed) { return seed.second.empty(); });  // a codec this OpenCV lacks
    esrun_fuzz::write_seeds_and_exit(dir, seeds);
  }
  const auto root = esrun_fuzz::scratch() / "images";
  for (const char* file : {"train/a/0.png", "train/b/0.png", "val/a/0.png", "val/b/0.png"}) {
    std::filesystem::create_directories((root / file).parent_path());
    cv::imwrite((root / file).string(), pattern(12, 12, CV_8UC3));
  }
  const auto config = esrun_fuzz::config_with({"data.name=image_folder", "data.root=" + root.string(),
                                               "data.image_folder={image_size: 8, resize: 10}"});
  const esrun::Dataset data = esrun::load_dataset(config);
  train_files() = data.train.files;
  test_files() = data.test.files;
#endif
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (!train_files()) return 0;
  const auto path = (esrun_fuzz::scratch() / "input.img").string();
  esrun_fuzz::write_file(path, esrun_fuzz::as_view(data, size));
  const auto& train = *train_files();
  std::vector<uint8_t> out(static_cast<size_t>(train.channels * train.height * train.width));
  const auto decode = [&](const esrun::ImageFiles& files, uint64_t seed) {
    try {
      files.decode(path, seed, out.data());
    } catch (const std::exception&) {  // ImageFileLoader::work's catch: an esrun::Error naming the file
    }
  };
  decode(train, 1);
  decode(train, 0x9e3779b97f4a7c15ULL);
  decode(*test_files(), 0);
  return 0;
}
