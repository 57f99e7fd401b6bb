// Models map an input batch (float images [N, C, H, W], features [N, F], or int32 token ids
// [N, 2, L] for text: data/tokenizer.h) to outputs [N, options.outputs]: logits, or one value per
// sample for regression; or [N, L, options.outputs] per position with options.per_token
// (causal_lm). Losses are the task's. Parameters with requires_grad false (frozen) are not trained.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "esrun/config/run_config.h"
#include "esrun/core/error.h"
#include "esrun/core/registry.h"

namespace esrun {

class Model : public torch::nn::Module {
 public:
  virtual torch::Tensor forward(torch::Tensor x) = 0;
  // optimizer.no_decay_bias_norm: auto: whether biases and normalisation weights skip weight decay
  // by default (transformers, as timm and Hugging Face train them).
  virtual bool default_no_decay() const { return false; }
  // Parameters (by name) that also skip weight decay then, beside every tensor of dimension <= 1.
  virtual std::vector<std::string> no_decay_parameters() const { return {}; }
  // The learning rate of a parameter (by name) over the schedule's: an imported model's new head
  // may train faster than its pretrained body (model.torchscript.head_lr_scale).
  virtual double lr_scale(const std::string& /*parameter*/) const { return 1.0; }
  // The penultimate-layer features [N, D] of inputs x, the input of the output layer (the
  // geometry-based scores of esrun score read them). has_embedding() is false for models without.
  virtual bool has_embedding() const { return false; }
  virtual torch::Tensor embed(torch::Tensor x);
  // torch::nn::Module's load, which takes whatever shapes the archive holds, plus a check that every
  // parameter and buffer kept its shape: an error naming the first that did not (a checkpoint of
  // another model), instead of silently becoming that model.
  void load(torch::serialize::InputArchive& archive) override;
};

// A model's presets (model.preset), the first the default: one table that both the registration's
// facts (their names, which config/ validates against) and the model's construction read.
template <typename Size>
class Presets {
 public:
  Presets(std::initializer_list<std::pair<std::string, Size>> table) : table_(table) {}
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& [name, size] : table_) out.push_back(name);
    return out;
  }
  // The preset's sizes; null: the first preset's.
  const Size& operator()(const std::optional<std::string>& preset) const {
    if (!preset) return table_.front().second;
    for (const auto& [name, size] : table_)
      if (name == *preset) return size;
    ESRUN_INTERNAL_CHECK(false, "model.preset '", *preset, "' passed validation but is no preset");
    return table_.front().second;
  }

 private:
  std::vector<std::pair<std::string, Size>> table_;
};

using ModelRegistry = Registry<std::shared_ptr<Model>, const ModelOptions&>;
ModelRegistry& models();

// What the dataset gives the model, for errors: "images [C, H, W]", "feature vectors of F values;
// use model.name: mlp" or "token ids (text); use model.name: transformer".
std::string input_kind(const ModelOptions& options);

// The channel count of image inputs [C, H, W]; an error naming the model when the dataset gives
// anything else.
int64_t image_channels(const ModelOptions& options);

// The feed-forward activation of the transformer models: gelu, gelu_tanh (the tanh approximation
// of GPT-2 and ALBERT) or relu.
torch::Tensor activate(const torch::Tensor& x, const std::string& name);

// BERT's and GPT-2's initialisation (Hugging Face's _init_weights): the weights of every Linear and
// Embedding submodule N(0, std), Linear biases 0 (LayerNorms keep 1 and 0).
void init_normal(torch::nn::Module& model, double std = 0.02);

// conv3x3 (stride, padding 1, no bias) as every CIFAR model here uses it.
torch::nn::Conv2d conv3x3(int64_t in, int64_t out, int64_t stride = 1);

}  // namespace esrun
