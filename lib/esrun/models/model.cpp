#include "esrun/models/model.h"

#include "esrun/core/error.h"

namespace esrun {

ModelRegistry& models() {
  static ModelRegistry registry("model");
  return registry;
}

int64_t image_channels(const ModelOptions& options) {
  ESRUN_CHECK(options.input_shape.size() == 3, options.where("model.name"), ": ", options.name,
              " is a convolutional network for images [C, H, W], but the dataset gives feature vectors of ",
              options.input_shape.empty() ? 0 : options.input_shape.back(), " values; use model.name: mlp");
  return options.input_shape[0];
}

torch::nn::Conv2d conv3x3(int64_t in, int64_t out, int64_t stride) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).stride(stride).padding(1).bias(false));
}

}  // namespace esrun
