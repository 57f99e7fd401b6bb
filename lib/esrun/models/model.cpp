#include "esrun/models/model.h"

namespace esrun {

ModelRegistry& models() {
  static ModelRegistry registry("model");
  return registry;
}

torch::nn::Conv2d conv3x3(int64_t in, int64_t out, int64_t stride) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).stride(stride).padding(1).bias(false));
}

}  // namespace esrun
