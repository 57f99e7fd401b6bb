// mlp: the input flattened (feature tables [N, F] as they are, images [N, C, H, W] to
// [N, C*H*W]), then per hidden size Linear -> BatchNorm1d (model.batch_norm) -> activation ->
// Dropout (model.dropout > 0), and a final Linear to the outputs.
// AdaSelection's paper trains a "simple MLP" and a "2-layer MLP" without giving their sizes; the
// presets are our reading of them: simple = one hidden layer of 32, two_layer = two of 64.
#include "esrun/core/error.h"
#include "esrun/models/batch_norm.h"
#include "esrun/models/model.h"

namespace esrun {
namespace {

const Presets<std::vector<int64_t>> preset_hidden = {{"simple", {32}}, {"two_layer", {64, 64}}};

torch::nn::AnyModule activation(const std::string& name, const std::string& where) {
  if (name == "relu") return torch::nn::AnyModule(torch::nn::ReLU());
  if (name == "gelu") return torch::nn::AnyModule(torch::nn::GELU());
  if (name == "gelu_tanh") return torch::nn::AnyModule(torch::nn::GELU(torch::nn::GELUOptions().approximate("tanh")));
  if (name == "tanh") return torch::nn::AnyModule(torch::nn::Tanh());
  if (name == "sigmoid") return torch::nn::AnyModule(torch::nn::Sigmoid());
  ESRUN_FAIL(where, ": expected one of relu, gelu, gelu_tanh, tanh, sigmoid, got '", name, "'");
}

class Mlp final : public Model {
 public:
  explicit Mlp(const ModelOptions& o) {
    ESRUN_CHECK(!o.input_shape.empty(), o.where("model.name"), ": mlp needs the dataset's input shape");
    ESRUN_CHECK(o.vocab_size == 0, o.where("model.name"), ": mlp takes images or feature vectors, but the dataset gives "
                "token ids; use model.name: transformer for text");
    int64_t in = 1;
    for (const int64_t size : o.input_shape) in *= size;
    for (const int64_t out : o.hidden.value_or(preset_hidden(o.preset))) {
      layers_->push_back(torch::nn::Linear(in, out));
      if (o.batch_norm) layers_->push_back(BatchNorm(out));
      layers_->push_back(activation(o.activation.value_or("relu"), o.where("model.activation")));
      if (o.dropout.value_or(0.0) > 0.0) layers_->push_back(torch::nn::Dropout(*o.dropout));
      in = out;
    }
    layers_->push_back(torch::nn::Linear(in, o.outputs));
    register_module("layers", layers_);
  }

  torch::Tensor forward(torch::Tensor x) override { return layers_->forward(x.flatten(1)); }

  bool has_embedding() const override { return true; }
  torch::Tensor embed(torch::Tensor x) override {
    x = x.flatten(1);
    for (auto layer = layers_->begin(); layer + 1 != layers_->end(); ++layer) x = layer->forward(x);
    return x;
  }

 private:
  torch::nn::Sequential layers_;
};

const bool registered = models().add(
    "mlp",
    "multilayer perceptron on the flattened input: model.hidden (or model.preset simple [32] | two_layer "
    "[64, 64]) layers of Linear -> BatchNorm1d (model.batch_norm) -> model.activation -> dropout",
    [](const ModelOptions& o) -> std::shared_ptr<Model> { return std::make_shared<Mlp>(o); },
    {.presets = preset_hidden.names(), .reads = {"model.preset", "model.hidden", "model.activation",
        "model.batch_norm", "model.dropout"}});

}  // namespace
}  // namespace esrun
