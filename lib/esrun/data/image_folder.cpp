// image_folder: the class-per-folder layout of ImageNet and torchvision's ImageFolder:
// <data.root>/<train_dir>/<class>/**/<image> and <data.root>/<test_dir>/<class>/**/<image>.
// Classes are the training folder's subfolders in sorted order (label = rank); files with an image
// extension are kept, in sorted order. The images are not held in memory: each batch is decoded by
// the loader's worker threads (data/file_loader.h). Training images get torchvision's
// RandomResizedCrop(image_size, scale=(min_scale, 1), ratio=(3/4, 4/3)) and a horizontal flip with
// probability 1/2; test images are resized so the shorter side is `resize`, then centre-cropped
// to image_size. Normalisation uses the ImageNet channel statistics.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <map>
#include <random>

#include "esrun/core/error.h"
#include "esrun/data/dataset.h"

#ifdef ESRUN_WITH_OPENCV
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#endif

namespace esrun {
namespace {

namespace fs = std::filesystem;

#ifdef ESRUN_WITH_OPENCV

bool is_image(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  static const char* kExtensions[] = {".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".pbm", ".tif", ".tiff", ".webp"};
  return std::find(std::begin(kExtensions), std::end(kExtensions), ext) != std::end(kExtensions);
}

struct Listing {
  std::vector<std::string> paths;
  std::vector<int64_t> labels;
};

// The image files under <dir>/<class>/, labelled by the class's rank in `classes`.
Listing list_split(const fs::path& dir, const std::string& key, const std::map<std::string, int64_t>& classes) {
  ESRUN_CHECK(fs::is_directory(dir), "data.image_folder.", key, ": folder '", dir.string(),
              "' does not exist (expected one subfolder of images per class)");
  std::vector<fs::path> class_dirs;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.is_directory()) class_dirs.push_back(entry.path());
  std::sort(class_dirs.begin(), class_dirs.end());
  Listing listing;
  for (const auto& class_dir : class_dirs) {
    const std::string name = class_dir.filename().string();
    const auto label = classes.find(name);
    ESRUN_CHECK(label != classes.end(), "data.image_folder.", key, ": class folder '", class_dir.string(),
                "' has no counterpart in the training folder (every test class must be a training class)");
    std::vector<std::string> files;
    for (const auto& entry : fs::recursive_directory_iterator(class_dir, fs::directory_options::follow_directory_symlink))
      if (entry.is_regular_file() && is_image(entry.path())) files.push_back(entry.path().string());
    ESRUN_CHECK(!files.empty(), "data.image_folder.", key, ": class folder '", class_dir.string(),
                "' holds no image files (.jpg, .jpeg, .png, .bmp, .ppm, .pgm, .pbm, .tif, .tiff, .webp)");
    std::sort(files.begin(), files.end());
    listing.paths.insert(listing.paths.end(), files.begin(), files.end());
    listing.labels.insert(listing.labels.end(), files.size(), label->second);
  }
  ESRUN_CHECK(!listing.paths.empty(), "data.image_folder.", key, ": folder '", dir.string(), "' has no class subfolders");
  return listing;
}

cv::Mat read_bgr(const std::string& path) {
  // As PIL (torchvision) reads them: EXIF orientation tags are not applied.
  cv::Mat image = cv::imread(path, cv::IMREAD_COLOR | cv::IMREAD_IGNORE_ORIENTATION);
  ESRUN_CHECK(!image.empty(), "could not decode the image (unreadable, truncated or not an image)");
  return image;
}

// Resizes to exactly width x height: area averaging when shrinking, bilinear when enlarging.
cv::Mat resized(const cv::Mat& image, int width, int height) {
  cv::Mat out;
  const bool shrinking = width < image.cols && height < image.rows;
  cv::resize(image, out, cv::Size(width, height), 0, 0, shrinking ? cv::INTER_AREA : cv::INTER_LINEAR);
  return out;
}

// Python's round(): halves go to the even neighbour (the default floating-point rounding mode).
int round_half_even(double x) { return static_cast<int>(std::nearbyint(x)); }

// An 8-bit BGR image [H, W, 3] as RGB planes [3, H, W].
void write_planes(const cv::Mat& bgr, uint8_t* out) {
  const int64_t plane = static_cast<int64_t>(bgr.rows) * bgr.cols;
  for (int y = 0; y < bgr.rows; ++y) {
    const auto* row = bgr.ptr<cv::Vec3b>(y);
    for (int x = 0; x < bgr.cols; ++x) {
      const int64_t at = static_cast<int64_t>(y) * bgr.cols + x;
      out[at] = row[x][2];
      out[plane + at] = row[x][1];
      out[2 * plane + at] = row[x][0];
    }
  }
}

// torchvision's RandomResizedCrop.get_params: ten tries at a random area and log-uniform aspect
// ratio, then the whole image with its ratio clamped to [3/4, 4/3], centred.
cv::Rect random_resized_crop(int width, int height, double min_scale, std::mt19937_64& rng) {
  const double area = static_cast<double>(width) * height;
  std::uniform_real_distribution<double> scale(min_scale, 1.0), log_ratio(std::log(3.0 / 4.0), std::log(4.0 / 3.0));
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target = area * scale(rng), ratio = std::exp(log_ratio(rng));
    const int w = round_half_even(std::sqrt(target * ratio));
    const int h = round_half_even(std::sqrt(target / ratio));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const int top = std::uniform_int_distribution<int>(0, height - h)(rng);
      const int left = std::uniform_int_distribution<int>(0, width - w)(rng);
      return cv::Rect(left, top, w, h);
    }
  }
  const double ratio = static_cast<double>(width) / height;
  int w = width, h = height;
  if (ratio < 3.0 / 4.0) h = round_half_even(w / (3.0 / 4.0));
  else if (ratio > 4.0 / 3.0) w = round_half_even(h * (4.0 / 3.0));
  w = std::min(w, width), h = std::min(h, height);
  return cv::Rect((width - w) / 2, (height - h) / 2, w, h);
}

void decode_train(const std::string& path, uint64_t seed, uint8_t* out, const ImageFolderOptions& options, bool flip) {
  const cv::Mat image = read_bgr(path);
  std::mt19937_64 rng(seed);
  const cv::Rect crop = random_resized_crop(image.cols, image.rows, options.min_scale, rng);
  const int size = static_cast<int>(options.image_size);
  cv::Mat patch = resized(image(crop), size, size);
  if (flip && std::uniform_real_distribution<double>(0.0, 1.0)(rng) < 0.5) cv::flip(patch, patch, 1);
  write_planes(patch, out);
}

// torchvision's Resize(resize) (shorter side to `resize`, the longer truncated) then CenterCrop.
void decode_test(const std::string& path, uint8_t* out, const ImageFolderOptions& options) {
  const cv::Mat image = read_bgr(path);
  const int shorter = static_cast<int>(options.resize), size = static_cast<int>(options.image_size);
  const bool wide = image.cols >= image.rows;
  const int width = wide ? static_cast<int>(static_cast<int64_t>(shorter) * image.cols / image.rows) : shorter;
  const int height = wide ? shorter : static_cast<int>(static_cast<int64_t>(shorter) * image.rows / image.cols);
  const cv::Mat whole = resized(image, width, height);
  const cv::Rect centre(round_half_even((width - size) / 2.0), round_half_even((height - size) / 2.0), size, size);
  write_planes(whole(centre).clone(), out);
}

Split file_split(const Listing& listing, const ImageFolderOptions& options,
                      std::function<void(const std::string&, uint64_t, uint8_t*)> decode) {
  auto files = std::make_shared<ImageFiles>();
  files->paths = listing.paths;
  files->height = files->width = options.image_size;
  files->decode = std::move(decode);
  const auto n = static_cast<int64_t>(listing.labels.size());
  return Split{{}, torch::tensor(listing.labels, torch::kLong), torch::arange(n, torch::kLong), std::move(files)};
}

Dataset make_image_folder(const DataOptions& options) {
  // The loader's workers decode in parallel already; OpenCV's own threads inside each would only
  // oversubscribe the cores. (A process-wide setting; the other OpenCV user, synthetic_shapes,
  // draws single-threaded anyway.)
  cv::setNumThreads(1);
  const fs::path root(options.root);
  const ImageFolderOptions& folder = options.image_folder;
  const fs::path train_dir = root / folder.train_dir;
  ESRUN_CHECK(fs::is_directory(train_dir), options.where("data.image_folder.train_dir"), ": folder '", train_dir.string(),
              "' does not exist (expected one subfolder of images per class)");
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(train_dir))
    if (entry.is_directory()) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  ESRUN_CHECK(names.size() >= 2, options.where("data.image_folder.train_dir"), ": folder '", train_dir.string(), "' has ", names.size(),
              " class subfolders; expected at least 2");
  std::map<std::string, int64_t> classes;
  for (size_t i = 0; i < names.size(); ++i) classes[names[i]] = static_cast<int64_t>(i);

  Dataset data;
  data.name = "image_folder";
  data.num_classes = static_cast<int64_t>(names.size());
  const bool flip = options.augment.flip;
  data.train = file_split(list_split(train_dir, "train_dir", classes), folder,
                          [folder, flip](const std::string& path, uint64_t seed, uint8_t* out) {
                            decode_train(path, seed, out, folder, flip);
                          });
  data.test = file_split(list_split(root / folder.test_dir, "test_dir", classes), folder,
                         [folder](const std::string& path, uint64_t, uint8_t* out) { decode_test(path, out, folder); });
  data.mean = {0.485, 0.456, 0.406};  // ImageNet's, as torchvision's reference scripts
  data.std = {0.229, 0.224, 0.225};
  return data;
}
#else
Dataset make_image_folder(const DataOptions& options) { fail_without_opencv(options); }
#endif

const bool registered = datasets().add(
    "image_folder",
    "<data.root>/<train_dir>/<class>/*.jpg|png|... and <test_dir>/<class>/... (ImageNet layout), decoded by "
    "worker threads batch by batch",
    make_image_folder,
    {.reads = {"data.root", "data.augment.flip", "data.augment.normalize", "data.augment.mean", "data.augment.std",
        "data.image_folder.train_dir", "data.image_folder.test_dir", "data.image_folder.image_size",
        "data.image_folder.resize", "data.image_folder.min_scale", "data.loader.workers", "data.loader.prefetch"}});

}  // namespace
}  // namespace esrun
