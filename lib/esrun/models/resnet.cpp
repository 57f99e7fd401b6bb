// ResNet-18 and ResNet-50 (He et al. 2016). model.stem picks the input stem: `cifar` (the variant
// the papers use on CIFAR: a 3x3 stride-1 convolution, no max-pool) or `imagenet` (the original:
// a 7x7 stride-2 convolution and a 3x3 stride-2 max-pool, for 224-pixel images). Then four stages
// of 64/128/256/512 base channels (model.width scales them), global average pooling and a linear
// classifier.
#include "esrun/models/batch_norm.h"
#include "esrun/models/model.h"

namespace esrun {
namespace {

torch::nn::Conv2d conv1x1(int64_t in, int64_t out, int64_t stride = 1) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 1).stride(stride).bias(false));
}

// The projection shortcut when the shape changes, identity otherwise.
torch::nn::Sequential shortcut(int64_t in, int64_t out, int64_t stride) {
  torch::nn::Sequential s;
  if (stride != 1 || in != out) {
    s->push_back(conv1x1(in, out, stride));
    s->push_back(BatchNorm(out));
  }
  return s;
}

// A residual block: conv-BN pairs with ReLU between them, the shortcut added, then ReLU.
// Basic (ResNet-18): 3x3 (stride) -> 3x3. Bottleneck (ResNet-50): 1x1 -> 3x3 (stride) -> 1x1 to 4x channels.
class ResidualBlock final : public torch::nn::Module {
 public:
  ResidualBlock(int64_t in, int64_t planes, int64_t stride, bool bottleneck)
      : out_channels_(bottleneck ? 4 * planes : planes) {
    const std::vector<torch::nn::Conv2d> convs =
        bottleneck ? std::vector<torch::nn::Conv2d>{conv1x1(in, planes), conv3x3(planes, planes, stride),
                                                   conv1x1(planes, out_channels_)}
                   : std::vector<torch::nn::Conv2d>{conv3x3(in, planes, stride), conv3x3(planes, planes)};
    for (size_t i = 0; i < convs.size(); ++i) {
      const std::string suffix = std::to_string(i + 1);
      convs_.push_back(register_module("conv" + suffix, convs[i]));
      norms_.push_back(register_module("bn" + suffix, BatchNorm(convs[i]->options.out_channels())));
    }
    shortcut_ = register_module("shortcut", shortcut(in, out_channels_, stride));
  }

  int64_t out_channels() const { return out_channels_; }

  torch::Tensor forward(const torch::Tensor& x) {
    auto out = x;
    for (size_t i = 0; i < convs_.size(); ++i) {
      out = norms_[i]->forward(convs_[i]->forward(out));
      if (i + 1 < convs_.size()) out = torch::relu(out);
    }
    return torch::relu(out + (shortcut_->is_empty() ? x : shortcut_->forward(x)));
  }

 private:
  int64_t out_channels_;
  std::vector<torch::nn::Conv2d> convs_;
  std::vector<BatchNorm> norms_;
  torch::nn::Sequential shortcut_{nullptr};
};

class ResNet final : public Model {
 public:
  ResNet(const std::vector<int64_t>& depths, bool bottleneck, const ModelOptions& o) {
    const int64_t width = o.width.value_or(64);
    imagenet_stem_ = o.stem == "imagenet";
    stem_conv_ = register_module(
        "conv1", imagenet_stem_
                     ? torch::nn::Conv2d(torch::nn::Conv2dOptions(image_channels(o), width, 7).stride(2).padding(3).bias(false))
                     : conv3x3(image_channels(o), width));
    stem_bn_ = register_module("bn1", BatchNorm(width));
    int64_t in = width;
    for (size_t stage = 0; stage < depths.size(); ++stage) {
      for (int64_t i = 0; i < depths[stage]; ++i) {
        const int64_t stride = (stage > 0 && i == 0) ? 2 : 1;
        auto block = std::make_shared<ResidualBlock>(in, width << stage, stride, bottleneck);
        in = block->out_channels();
        blocks_.push_back(register_module("layer" + std::to_string(stage + 1) + "_" + std::to_string(i), block));
      }
    }
    fc_ = register_module("fc", torch::nn::Linear(in, o.outputs));
  }

  torch::Tensor forward(torch::Tensor x) override { return fc_->forward(embed(x)); }

  bool has_embedding() const override { return true; }
  torch::Tensor embed(torch::Tensor x) override {
    x = torch::relu(stem_bn_->forward(stem_conv_->forward(x)));
    if (imagenet_stem_) x = torch::max_pool2d(x, 3, 2, 1);
    for (auto& block : blocks_) x = block->forward(x);
    return torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1);
  }

 private:
  bool imagenet_stem_ = false;
  torch::nn::Conv2d stem_conv_{nullptr};
  BatchNorm stem_bn_{nullptr};
  std::vector<std::shared_ptr<ResidualBlock>> blocks_;
  torch::nn::Linear fc_{nullptr};
};

const bool registered18 = models().add(
    "resnet18", "ResNet-18, basic blocks [2, 2, 2, 2]; model.stem cifar (3x3 conv) or imagenet (7x7/2 conv + max-pool)",
    [](const ModelOptions& o) -> std::shared_ptr<Model> { return std::make_shared<ResNet>(std::vector<int64_t>{2, 2, 2, 2}, false, o); },
    {.reads = {"model.width", "model.stem"}});
const bool registered50 = models().add(
    "resnet50", "ResNet-50, bottleneck blocks [3, 4, 6, 3]; model.stem cifar (3x3 conv) or imagenet (7x7/2 conv + max-pool)",
    [](const ModelOptions& o) -> std::shared_ptr<Model> { return std::make_shared<ResNet>(std::vector<int64_t>{3, 4, 6, 3}, true, o); },
    {.reads = {"model.width", "model.stem"}});

}  // namespace
}  // namespace esrun
