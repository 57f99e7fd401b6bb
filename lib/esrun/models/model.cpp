#include "esrun/models/model.h"

#include "esrun/core/error.h"

namespace esrun {

ModelRegistry& models() {
  static ModelRegistry registry("model");
  return registry;
}

torch::Tensor Model::embed(torch::Tensor /*x*/) {
  ESRUN_FAIL("this model gives no penultimate-layer embedding (esrun's resnet, small_cnn, mlp, vit and transformer do)");
}

std::string input_kind(const ModelOptions& options) {
  if (options.vocab_size > 0) return "token ids (text); use model.name: transformer";
  if (options.input_shape.size() == 3) return "images [C, H, W]";
  return "feature vectors of " + std::to_string(options.input_shape.empty() ? 0 : options.input_shape.back()) +
         " values; use model.name: mlp";
}

int64_t image_channels(const ModelOptions& options) {
  ESRUN_CHECK(options.input_shape.size() == 3 && options.vocab_size == 0, options.where("model.name"), ": ",
              options.name, " is a convolutional network for images [C, H, W], but the dataset gives ",
              input_kind(options));
  return options.input_shape[0];
}

torch::Tensor activate(const torch::Tensor& x, const std::string& name) {
  if (name == "gelu") return torch::gelu(x);
  if (name == "gelu_tanh") return torch::gelu(x, "tanh");
  return torch::relu(x);
}

void init_normal(torch::nn::Module& model, double std) {
  torch::NoGradGuard no_grad;
  for (auto& module : model.modules(/*include_self=*/false)) {
    if (auto* linear = module->as<torch::nn::Linear>()) {
      linear->weight.normal_(0.0, std);
      linear->bias.zero_();
    } else if (auto* embedding = module->as<torch::nn::Embedding>()) {
      embedding->weight.normal_(0.0, std);
    }
  }
}

torch::nn::Conv2d conv3x3(int64_t in, int64_t out, int64_t stride) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).stride(stride).padding(1).bias(false));
}

void Model::load(torch::serialize::InputArchive& archive) {
  std::vector<std::pair<std::string, std::vector<int64_t>>> shapes;
  for (const auto& p : named_parameters()) shapes.emplace_back(p.key(), p.value().sizes().vec());
  for (const auto& b : named_buffers()) shapes.emplace_back(b.key(), b.value().sizes().vec());
  torch::nn::Module::load(archive);
  const auto now = named_parameters();
  const auto buffers = named_buffers();
  for (const auto& [name, shape] : shapes) {
    const torch::Tensor* loaded = now.find(name);
    if (loaded == nullptr) loaded = buffers.find(name);
    ESRUN_CHECK(loaded != nullptr && loaded->sizes().vec() == shape, "the saved model's '", name, "' has shape ",
                loaded ? loaded->sizes() : c10::IntArrayRef{}, " where this config's model has ", c10::IntArrayRef(shape),
                ": the checkpoint is of another model");
  }
}

}  // namespace esrun
