// small_cnn: three conv-BN-ReLU-maxpool blocks (w, 2w, 4w channels), global average pooling and
// a linear classifier. About 0.3 M parameters at w = 32: fast enough for CPU experiments.
#include "esrun/models/batch_norm.h"
#include "esrun/models/model.h"

namespace esrun {
namespace {

class SmallCnn final : public Model {
 public:
  SmallCnn(int64_t in_channels, int64_t width, int64_t classes) {
    int64_t channels = in_channels;
    for (int64_t i = 0; i < 3; ++i) {
      const int64_t out = width << i;
      features_->push_back(conv3x3(channels, out));
      features_->push_back(BatchNorm(out));
      features_->push_back(torch::nn::ReLU(torch::nn::ReLUOptions().inplace(true)));
      features_->push_back(torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(2)));
      channels = out;
    }
    register_module("features", features_);
    classifier_ = register_module("classifier", torch::nn::Linear(channels, classes));
  }

  torch::Tensor forward(torch::Tensor x) override { return classifier_->forward(embed(x)); }

  bool has_embedding() const override { return true; }
  torch::Tensor embed(torch::Tensor x) override {
    return torch::adaptive_avg_pool2d(features_->forward(x), {1, 1}).flatten(1);
  }

 private:
  torch::nn::Sequential features_;
  torch::nn::Linear classifier_{nullptr};
};

const bool registered = models().add(
    "small_cnn", "3 conv-BN-ReLU-maxpool blocks (model.width, default 32) + linear; fast on CPU",
    [](const ModelOptions& o) -> std::shared_ptr<Model> {
      return std::make_shared<SmallCnn>(image_channels(o), o.width.value_or(32), o.outputs);
    },
    {.reads = {"model.width"}});

}  // namespace
}  // namespace esrun
