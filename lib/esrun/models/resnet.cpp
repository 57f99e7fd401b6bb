// ResNet-18 and ResNet-50 (He et al. 2016) in the CIFAR variant the papers use: a 3x3 stride-1
// stem convolution and no max-pool, four stages of 64/128/256/512 base channels (model.width
// scales them), global average pooling and a linear classifier.
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
    s->push_back(torch::nn::BatchNorm2d(out));
  }
  return s;
}

class BasicBlock final : public torch::nn::Module {
 public:
  static constexpr int64_t kExpansion = 1;
  BasicBlock(int64_t in, int64_t planes, int64_t stride)
      : conv1_(register_module("conv1", conv3x3(in, planes, stride))),
        bn1_(register_module("bn1", torch::nn::BatchNorm2d(planes))),
        conv2_(register_module("conv2", conv3x3(planes, planes))),
        bn2_(register_module("bn2", torch::nn::BatchNorm2d(planes))),
        shortcut_(register_module("shortcut", shortcut(in, planes, stride))) {}

  torch::Tensor forward(torch::Tensor x) {
    auto out = torch::relu(bn1_->forward(conv1_->forward(x)));
    out = bn2_->forward(conv2_->forward(out));
    return torch::relu(out + (shortcut_->is_empty() ? x : shortcut_->forward(x)));
  }

 private:
  torch::nn::Conv2d conv1_;
  torch::nn::BatchNorm2d bn1_;
  torch::nn::Conv2d conv2_;
  torch::nn::BatchNorm2d bn2_;
  torch::nn::Sequential shortcut_;
};

class Bottleneck final : public torch::nn::Module {
 public:
  static constexpr int64_t kExpansion = 4;
  Bottleneck(int64_t in, int64_t planes, int64_t stride)
      : conv1_(register_module("conv1", conv1x1(in, planes))),
        bn1_(register_module("bn1", torch::nn::BatchNorm2d(planes))),
        conv2_(register_module("conv2", conv3x3(planes, planes, stride))),
        bn2_(register_module("bn2", torch::nn::BatchNorm2d(planes))),
        conv3_(register_module("conv3", conv1x1(planes, planes * kExpansion))),
        bn3_(register_module("bn3", torch::nn::BatchNorm2d(planes * kExpansion))),
        shortcut_(register_module("shortcut", shortcut(in, planes * kExpansion, stride))) {}

  torch::Tensor forward(torch::Tensor x) {
    auto out = torch::relu(bn1_->forward(conv1_->forward(x)));
    out = torch::relu(bn2_->forward(conv2_->forward(out)));
    out = bn3_->forward(conv3_->forward(out));
    return torch::relu(out + (shortcut_->is_empty() ? x : shortcut_->forward(x)));
  }

 private:
  torch::nn::Conv2d conv1_;
  torch::nn::BatchNorm2d bn1_;
  torch::nn::Conv2d conv2_;
  torch::nn::BatchNorm2d bn2_;
  torch::nn::Conv2d conv3_;
  torch::nn::BatchNorm2d bn3_;
  torch::nn::Sequential shortcut_;
};

template <typename BlockType>
class ResNet final : public Model {
 public:
  ResNet(const std::vector<int64_t>& depths, const ModelOptions& o) {
    const int64_t width = o.width.value_or(64);
    stem_conv_ = register_module("conv1", conv3x3(o.in_channels, width));
    stem_bn_ = register_module("bn1", torch::nn::BatchNorm2d(width));
    int64_t in = width;
    for (size_t stage = 0; stage < depths.size(); ++stage) {
      const int64_t planes = width << stage;
      for (int64_t i = 0; i < depths[stage]; ++i) {
        const int64_t stride = (stage > 0 && i == 0) ? 2 : 1;
        blocks_.push_back(register_module("layer" + std::to_string(stage + 1) + "_" + std::to_string(i),
                                          std::make_shared<BlockType>(in, planes, stride)));
        in = planes * BlockType::kExpansion;
      }
    }
    fc_ = register_module("fc", torch::nn::Linear(in, o.num_classes));
  }

  torch::Tensor forward(torch::Tensor x) override {
    x = torch::relu(stem_bn_->forward(stem_conv_->forward(x)));
    for (auto& block : blocks_) x = block->forward(x);
    return fc_->forward(torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1));
  }

 private:
  torch::nn::Conv2d stem_conv_{nullptr};
  torch::nn::BatchNorm2d stem_bn_{nullptr};
  std::vector<std::shared_ptr<BlockType>> blocks_;
  torch::nn::Linear fc_{nullptr};
};

const bool registered18 = models().add(
    "resnet18", "ResNet-18, CIFAR stem (3x3 conv, no max-pool), basic blocks [2, 2, 2, 2]",
    [](const ModelOptions& o) -> std::shared_ptr<Model> { return std::make_shared<ResNet<BasicBlock>>(std::vector<int64_t>{2, 2, 2, 2}, o); });
const bool registered50 = models().add(
    "resnet50", "ResNet-50, CIFAR stem (3x3 conv, no max-pool), bottleneck blocks [3, 4, 6, 3]",
    [](const ModelOptions& o) -> std::shared_ptr<Model> { return std::make_shared<ResNet<Bottleneck>>(std::vector<int64_t>{3, 4, 6, 3}, o); });

}  // namespace
}  // namespace esrun
