// vit: the Vision Transformer (Dosovitskiy et al. 2021) as timm's VisionTransformer builds it,
// with pre-norm blocks. Non-overlapping patches are embedded by a Conv2d(C, D, patch, stride
// patch); model.pool cls prepends a learned class token and the head reads it, mean adds none and
// the head reads the mean of the tokens; a learned position embedding [1, T, D] is added, then
// dropout. Each block: x = x + Attn(LN(x)); x = x + MLP(LN(x)); a final LayerNorm and a linear
// head follow. With patch 16 on 224-pixel images and 1000 classes the presets have the parameter
// counts of timm's vit_{tiny,small,base,large}_patch16_224.
#include <cmath>

#include "esrun/core/error.h"
#include "esrun/models/attention.h"
#include "esrun/models/model.h"

namespace esrun {
namespace {

struct VitSize {
  int64_t width, depth, heads;
};

const Presets<VitSize> preset_size = {
    {"tiny", {192, 12, 3}}, {"small", {384, 12, 6}}, {"base", {768, 12, 12}}, {"large", {1024, 24, 16}}};

// timm's init draws from a normal truncated to [a, b]; libtorch (1.13 and 2.x) has no
// trunc_normal_, so this is PyTorch's Python one: inverse-CDF sampling, exact, from the global
// generator like every module initialiser. The bounds are +-2 std (+-0.04 at std 0.02); timm
// passes absolute bounds +-2, which at std 0.02 never bind.
void trunc_normal_(torch::Tensor tensor, double std) {
  torch::NoGradGuard no_grad;
  const auto cdf = [](double x) { return 0.5 * (1.0 + std::erf(x / std::sqrt(2.0))); };
  tensor.uniform_(2.0 * cdf(-2.0) - 1.0, 2.0 * cdf(2.0) - 1.0);
  tensor.erfinv_().mul_(std * std::sqrt(2.0)).clamp_(-2.0 * std, 2.0 * std);
}

// A module of its own, as timm's: its layers are blocks.i.attn.qkv and blocks.i.attn.proj.
class Attention final : public torch::nn::Module {
 public:
  // Attention dropout (timm's attn_drop) has no key of its own and stays 0.
  Attention(int64_t width, int64_t heads, double dropout)
      : attention_(*this, width, heads, {.weights = 0.0, .output = dropout}, /*causal=*/false) {}

  torch::Tensor forward(const torch::Tensor& x) { return attention_.forward(x, is_training()); }

 private:
  FusedSelfAttention attention_;
};

class Block final : public torch::nn::Module {
 public:
  Block(int64_t width, int64_t heads, int64_t hidden, double dropout) : dropout_(dropout) {
    const auto norm = [&] { return torch::nn::LayerNorm(torch::nn::LayerNormOptions({width}).eps(1e-6)); };
    norm1_ = register_module("norm1", norm());
    attn_ = register_module("attn", std::make_shared<Attention>(width, heads, dropout));
    norm2_ = register_module("norm2", norm());
    fc1_ = register_module("fc1", torch::nn::Linear(width, hidden));
    fc2_ = register_module("fc2", torch::nn::Linear(hidden, width));
  }

  torch::Tensor forward(torch::Tensor x) {
    x = x + attn_->forward(norm1_->forward(x));
    auto h = torch::dropout(torch::gelu(fc1_->forward(norm2_->forward(x))), dropout_, is_training());
    return x + torch::dropout(fc2_->forward(h), dropout_, is_training());
  }

 private:
  double dropout_;
  torch::nn::LayerNorm norm1_{nullptr}, norm2_{nullptr};
  std::shared_ptr<Attention> attn_;
  torch::nn::Linear fc1_{nullptr}, fc2_{nullptr};
};

class VisionTransformer final : public Model {
 public:
  explicit VisionTransformer(const ModelOptions& o) : dropout_(o.dropout.value_or(0.0)) {
    ESRUN_CHECK(o.input_shape.size() == 3 && o.vocab_size == 0, o.where("model.name"),
                ": vit takes images [C, H, W], but the dataset gives ", input_kind(o));
    ESRUN_CHECK(o.pool == "cls" || o.pool == "mean", o.where("model.pool"), ": expected one of cls, mean, got '", o.pool, "'");
    const int64_t channels = o.input_shape[0], height = o.input_shape[1], image_width = o.input_shape[2];
    const int64_t patch = o.patch_size.value_or(std::max(height, image_width) <= 64 ? 4 : 16);
    ESRUN_CHECK(height % patch == 0 && image_width % patch == 0, o.where("model.patch_size"), ": ", patch, " does not divide the ",
                height, "x", image_width, " images", o.patch_size ? "" : " (the default for their size)",
                "; set a patch size that divides both sides");
    const VitSize preset = preset_size(o.preset);
    const int64_t width = o.width.value_or(preset.width), depth = o.depth.value_or(preset.depth),
                  heads = o.heads.value_or(preset.heads);
    const int64_t hidden = checked_hidden_width(o, width, heads);

    patch_embed_ = register_module(
        "patch_embed", torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, width, patch).stride(patch)));
    int64_t tokens = (height / patch) * (image_width / patch);
    if (o.pool == "cls") {
      cls_token_ = register_parameter("cls_token", torch::empty({1, 1, width}));
      ++tokens;
    }
    pos_embed_ = register_parameter("pos_embed", torch::empty({1, tokens, width}));
    blocks_ = register_module("blocks", torch::nn::ModuleList());
    for (int64_t i = 0; i < depth; ++i) blocks_->push_back(std::make_shared<Block>(width, heads, hidden, dropout_));
    norm_ = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({width}).eps(1e-6)));
    head_ = register_module("head", torch::nn::Linear(width, o.outputs));
    init_weights();
  }

  torch::Tensor forward(torch::Tensor x) override { return head_->forward(embed(x)); }

  bool has_embedding() const override { return true; }
  torch::Tensor embed(torch::Tensor x) override {
    x = patch_embed_->forward(x).flatten(2).transpose(1, 2);  // [N, D, H/p, W/p] -> [N, T, D]
    if (cls_token_.defined()) x = torch::cat({cls_token_.expand({x.size(0), -1, -1}), x}, 1);
    x = torch::dropout(x + pos_embed_, dropout_, is_training());
    for (const auto& block : *blocks_) x = block->as<Block>()->forward(x);
    x = norm_->forward(x);
    return cls_token_.defined() ? x.select(1, 0) : x.mean(1);
  }

  bool default_no_decay() const override { return true; }
  std::vector<std::string> no_decay_parameters() const override {
    if (cls_token_.defined()) return {"pos_embed", "cls_token"};
    return {"pos_embed"};
  }

 private:
  // timm's init_weights_vit_timm: Linear weights trunc_normal(std 0.02), biases 0; the position
  // embedding and class token trunc_normal(std 0.02) as in the original timm and DeiT (timm now
  // draws the class token with std 1e-6). LayerNorms keep weight 1, bias 0 and the patch embedding
  // Conv2d its default init, as in timm.
  void init_weights() {
    torch::NoGradGuard no_grad;
    trunc_normal_(pos_embed_, 0.02);
    if (cls_token_.defined()) trunc_normal_(cls_token_, 0.02);
    for (auto& module : modules(/*include_self=*/false)) {
      if (auto* linear = module->as<torch::nn::Linear>()) {
        trunc_normal_(linear->weight, 0.02);
        linear->bias.zero_();
      }
    }
  }

  double dropout_;
  torch::nn::Conv2d patch_embed_{nullptr};
  torch::Tensor cls_token_, pos_embed_;
  torch::nn::ModuleList blocks_{nullptr};
  torch::nn::LayerNorm norm_{nullptr};
  torch::nn::Linear head_{nullptr};
};

const bool registered = models().add(
    "vit",
    "Vision Transformer as timm's (pre-norm); model.preset tiny | small | base | large, model.patch_size "
    "(default 4 up to 64 pixels, else 16), model.pool cls | mean",
    [](const ModelOptions& o) -> std::shared_ptr<Model> { return std::make_shared<VisionTransformer>(o); },
    {.presets = preset_size.names(), .reads = {"model.preset", "model.width", "model.dropout",
        "model.patch_size", "model.depth", "model.heads", "model.mlp_ratio", "model.pool"}});

}  // namespace
}  // namespace esrun
