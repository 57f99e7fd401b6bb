// synthetic_shapes: the quickstart's data, generated here so esrun runs with no download.
// Each image is one filled shape (the class) of random size, position, rotation and colour,
// anti-aliased by OpenCV on a random-colour background with Gaussian pixel noise. Everything
// comes from cv::RNG seeded by the data stream, so the same seed gives the same images.
// The name is registered in every build; without OpenCV, asking for it is an error that says so.
#include <cmath>

#include "esrun/core/error.h"
#include "esrun/data/dataset.h"

#ifdef ESRUN_WITH_OPENCV
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#endif

namespace esrun {
namespace {

#ifdef ESRUN_WITH_OPENCV

std::vector<cv::Point> regular_polygon(cv::Point2d centre, double radius, int corners, double angle,
                                       double inner_ratio = 1.0) {
  std::vector<cv::Point> points;
  const int steps = inner_ratio < 1.0 ? 2 * corners : corners;
  for (int i = 0; i < steps; ++i) {
    const double r = (inner_ratio < 1.0 && i % 2 == 1) ? radius * inner_ratio : radius;
    const double a = angle + 2.0 * CV_PI * i / steps;
    // 4 fractional bits: sub-pixel corners (cv::fillPoly's `shift`).
    points.emplace_back(cvRound((centre.x + r * std::cos(a)) * 16), cvRound((centre.y + r * std::sin(a)) * 16));
  }
  return points;
}

cv::Scalar random_colour(cv::RNG& rng) {
  return cv::Scalar(rng.uniform(0, 256), rng.uniform(0, 256), rng.uniform(0, 256));
}

void draw_shape(cv::Mat& image, int kind, cv::RNG& rng) {
  const double size = image.rows;
  const double radius = size * rng.uniform(0.18, 0.38);
  const cv::Point2d centre(rng.uniform(radius, size - radius), rng.uniform(radius, size - radius));
  const double angle = rng.uniform(0.0, 2.0 * CV_PI);
  // A colour far enough from the background's mean that the shape is visible.
  cv::Scalar colour = random_colour(rng);
  const cv::Scalar background = cv::mean(image);
  if (cv::norm(colour - background) < 120) colour = cv::Scalar(255, 255, 255) - background;
  const auto fill = [&](const std::vector<cv::Point>& poly) {
    cv::fillPoly(image, std::vector<std::vector<cv::Point>>{poly}, colour, cv::LINE_AA, 4);
  };
  const cv::Point c16(cvRound(centre.x * 16), cvRound(centre.y * 16));
  switch (kind) {
    case 0: cv::circle(image, c16, cvRound(radius * 16), colour, cv::FILLED, cv::LINE_AA, 4); break;
    case 1: fill(regular_polygon(centre, radius, 4, angle)); break;
    case 2: fill(regular_polygon(centre, radius, 3, angle)); break;
    case 3: fill(regular_polygon(centre, radius, 4, angle, 0.35)); break;  // a plus-like cross
    case 4:
      cv::circle(image, c16, cvRound(radius * 0.75 * 16), colour, std::max(2, cvRound(radius * 0.35)), cv::LINE_AA, 4);
      break;
    case 5: fill(regular_polygon(centre, radius, 5, angle, 0.45)); break;
    case 6: fill(regular_polygon(centre, radius, 6, angle)); break;
    default: {
      const cv::Point2d d(std::cos(angle) * radius, std::sin(angle) * radius);
      const cv::Point a(cvRound((centre.x - d.x) * 16), cvRound((centre.y - d.y) * 16));
      const cv::Point b(cvRound((centre.x + d.x) * 16), cvRound((centre.y + d.y) * 16));
      cv::line(image, a, b, colour, std::max(2, cvRound(radius * 0.4)), cv::LINE_AA, 4);
    }
  }
}

Split generate(int64_t count, const SyntheticOptions& options, cv::RNG& rng) {
  const int size = static_cast<int>(options.image_size);
  auto images = torch::empty({count, 3, size, size}, torch::kUInt8);
  auto labels = torch::empty({count}, torch::kLong);
  auto* label_ptr = labels.data_ptr<int64_t>();
  cv::Mat image(size, size, CV_8UC3), noise(size, size, CV_32FC3);
  std::vector<cv::Mat> planes;
  for (int64_t i = 0; i < count; ++i) {
    const int kind = rng.uniform(0, static_cast<int>(options.classes));
    image.setTo(random_colour(rng));
    draw_shape(image, kind, rng);
    rng.fill(noise, cv::RNG::NORMAL, 0.0, options.noise * 255.0);
    cv::Mat noisy;
    image.convertTo(noisy, CV_32FC3);
    noisy += noise;
    noisy.convertTo(image, CV_8UC3);  // saturating
    cv::split(image, planes);
    auto* out = images[i].data_ptr<uint8_t>();
    for (int ch = 0; ch < 3; ++ch)
      std::memcpy(out + ch * size * size, planes[ch].data, static_cast<size_t>(size) * size);
    label_ptr[i] = kind;
  }
  return Split{images, labels, torch::arange(count, torch::kLong), {}};
}

Dataset make_synthetic_shapes(const DataOptions& options) {
  cv::RNG rng(options.seed);
  Dataset data;
  data.name = "synthetic_shapes";
  data.num_classes = options.synthetic.classes;
  data.train = generate(options.synthetic.train_size, options.synthetic, rng);
  data.test = generate(options.synthetic.test_size, options.synthetic, rng);
  channel_statistics(data.train.inputs, data.mean, data.std);
  return data;
}
#else
Dataset make_synthetic_shapes(const DataOptions& options) { fail_without_opencv(options); }
#endif

const bool registered = datasets().add(
    "synthetic_shapes",
    "generated images of shapes (circle, square, triangle, cross, ring, star, hexagon, bar) on noisy backgrounds",
    make_synthetic_shapes,
    {.reads = {"data.synthetic.train_size", "data.synthetic.test_size", "data.synthetic.classes",
        "data.synthetic.image_size", "data.synthetic.noise", "data.augment.crop_padding", "data.augment.flip",
        "data.augment.normalize", "data.augment.mean", "data.augment.std"}});

}  // namespace
}  // namespace esrun
