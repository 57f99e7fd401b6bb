// transformer: a BERT-style encoder classifier (Devlin et al. 2019) over token ids [N, 2, L]
// (data/tokenizer.h), with ALBERT's changes (Lan et al. 2020) under model.albert.
//   embeddings: token + position + segment embeddings of width E, LayerNorm, dropout; with E !=
//     width (ALBERT's factorised embedding, model.embedding_size) a Linear maps E to the width.
//   N layers (model.depth), each multi-head self-attention and a feed-forward block (width ->
//     mlp_ratio * width -> width, model.activation), residual connections, LayerNorm after each
//     (post, BERT and ALBERT) or before each with a final one (pre, model.norm); padding is masked
//     out of every attention. ALBERT shares one layer's parameters across all N.
//   [CLS] pooling: BERT's pooler (Linear + tanh on the first token), dropout (model.head_dropout),
//     and a Linear to the outputs (classes, or 1 for regression).
// Each batch is cut to its longest example, so batches are padded per batch. Initialisation is
// BERT's: weights N(0, 0.02), biases 0, LayerNorm 1 and 0 (eps 1e-12). The presets have the
// published sizes: bert-base (110M parameters with BERT's 30,522-piece vocabulary) and albert-base
// (ALBERT-base-v2: 12M with 30,000 pieces, no dropout but on the classifier, tanh-approximated
// GELU); tiny (width 128, 2 layers, 2 heads) trains on two CPU cores in minutes.
#include "esrun/core/error.h"
#include "esrun/models/attention.h"
#include "esrun/models/model.h"

namespace esrun {
namespace {

struct Size {
  int64_t width, depth, heads, embedding;
  double dropout, attention_dropout, head_dropout;
  const char* activation;
  bool albert;
};

const Presets<Size> preset_size = {{"tiny", {128, 2, 2, 128, 0.1, 0.1, 0.1, "gelu", false}},
                                    {"bert-base", {768, 12, 12, 768, 0.1, 0.1, 0.1, "gelu", false}},
                                    {"albert-base", {768, 12, 12, 128, 0.0, 0.0, 0.1, "gelu_tanh", true}}};

torch::nn::LayerNorm layer_norm(int64_t width) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({width}).eps(1e-12));
}

class Layer final : public torch::nn::Module {
 public:
  // ffn_dropout: dropout after the feed-forward block (BERT); ALBERT has none there.
  Layer(int64_t width, int64_t heads, int64_t hidden, double dropout, double attention_dropout, std::string activation,
        bool pre_norm, bool ffn_dropout)
      : heads_(heads),
        dropout_(dropout),
        ffn_dropout_(ffn_dropout ? dropout : 0.0),
        attention_dropout_(attention_dropout),
        activation_(std::move(activation)),
        pre_norm_(pre_norm) {
    query_ = register_module("query", torch::nn::Linear(width, width));
    key_ = register_module("key", torch::nn::Linear(width, width));
    value_ = register_module("value", torch::nn::Linear(width, width));
    output_ = register_module("output", torch::nn::Linear(width, width));
    attention_norm_ = register_module("attention_norm", layer_norm(width));
    fc1_ = register_module("fc1", torch::nn::Linear(width, hidden));
    fc2_ = register_module("fc2", torch::nn::Linear(hidden, width));
    output_norm_ = register_module("output_norm", layer_norm(width));
  }

  // x [N, T, D]; mask bool [N, 1, 1, T], true on real tokens.
  torch::Tensor forward(torch::Tensor x, const torch::Tensor& mask) {
    if (pre_norm_) {
      x = x + attend(attention_norm_->forward(x), mask);
      return x + feed_forward(output_norm_->forward(x));
    }
    x = attention_norm_->forward(x + attend(x, mask));
    return output_norm_->forward(x + feed_forward(x));
  }

 private:
  torch::Tensor attend(const torch::Tensor& x, const torch::Tensor& mask) {
    const int64_t n = x.size(0), tokens = x.size(1), width = x.size(2);
    const auto heads = [&](torch::nn::Linear& proj) {
      return proj->forward(x).view({n, tokens, heads_, width / heads_}).transpose(1, 2);
    };
    return attend_heads(heads(query_), heads(key_), heads(value_), output_,
                        {.weights = attention_dropout_, .output = dropout_}, is_training(), mask);
  }

  torch::Tensor feed_forward(const torch::Tensor& x) {
    return torch::dropout(fc2_->forward(activate(fc1_->forward(x), activation_)), ffn_dropout_, is_training());
  }

  int64_t heads_;
  double dropout_, ffn_dropout_, attention_dropout_;
  std::string activation_;
  bool pre_norm_;
  torch::nn::Linear query_{nullptr}, key_{nullptr}, value_{nullptr}, output_{nullptr}, fc1_{nullptr}, fc2_{nullptr};
  torch::nn::LayerNorm attention_norm_{nullptr}, output_norm_{nullptr};
};

class Transformer final : public Model {
 public:
  explicit Transformer(const ModelOptions& o) {
    ESRUN_CHECK(o.vocab_size > 0 && o.input_shape.size() == 2, o.where("model.name"),
                ": transformer takes token ids (a text dataset such as glue), but the dataset gives ", input_kind(o));
    ESRUN_CHECK(!o.per_token, o.where("model.name"),
                ": transformer classifies whole sequences; for causal_lm use model.name: gpt");
    const Size preset = preset_size(o.preset);
    const int64_t width = o.width.value_or(preset.width), heads = o.heads.value_or(preset.heads);
    depth_ = o.depth.value_or(preset.depth);
    const bool albert = o.albert.value_or(preset.albert);
    // ALBERT factorises the embeddings (128 wide, as in all its sizes); BERT's are as wide as the layers.
    const int64_t embedding = o.embedding_size.value_or(albert ? 128 : width);
    const std::string norm = o.norm.value_or("post");
    const int64_t hidden = checked_hidden_width(o, width, heads);
    max_positions_ = o.max_positions;
    max_positions_where_ = o.where("model.max_positions");
    ESRUN_CHECK(o.input_shape[1] <= max_positions_, o.where("model.max_positions"), ": ", max_positions_,
                " positions, but the training examples have up to ", o.input_shape[1],
                " tokens; raise it or lower data.tokenizer.max_length");
    const double dropout = o.dropout.value_or(preset.dropout);
    const double attention_dropout = o.attention_dropout.value_or(preset.attention_dropout);
    head_dropout_ = o.head_dropout.value_or(o.dropout.value_or(preset.head_dropout));
    const std::string activation = o.activation.value_or(preset.activation);  // gelu | gelu_tanh | relu (validated)
    embedding_dropout_ = dropout;

    words_ = register_module("word_embeddings", torch::nn::Embedding(o.vocab_size, embedding));
    positions_ = register_module("position_embeddings", torch::nn::Embedding(max_positions_, embedding));
    segments_ = register_module("token_type_embeddings", torch::nn::Embedding(2, embedding));
    embedding_norm_ = register_module("embedding_norm", layer_norm(embedding));
    if (embedding != width) projection_ = register_module("embedding_projection", torch::nn::Linear(embedding, width));
    layers_ = register_module("layers", torch::nn::ModuleList());
    for (int64_t i = 0; i < (albert ? 1 : depth_); ++i)
      layers_->push_back(std::make_shared<Layer>(width, heads, hidden, dropout, attention_dropout, activation,
                                                 norm == "pre", /*ffn_dropout=*/!albert));
    if (norm == "pre") final_norm_ = register_module("final_norm", layer_norm(width));
    pooler_ = register_module("pooler", torch::nn::Linear(width, width));
    head_ = register_module("head", torch::nn::Linear(width, o.outputs));
    init_normal(*this);  // BERT's
  }

  torch::Tensor forward(torch::Tensor x) override {
    return head_->forward(torch::dropout(embed(x), head_dropout_, is_training()));
  }

  // The pooled [CLS] state, the classification head's input.
  bool has_embedding() const override { return true; }
  torch::Tensor embed(torch::Tensor x) override {
    ESRUN_CHECK(x.dim() == 3 && x.size(1) == 2, "transformer: expected token ids [N, 2, L], got ", x.sizes());
    // Per-batch padding: the batch is cut to its longest example (one host read).
    const int64_t length = x.select(1, 1).gt(0).sum(1).max().item<int64_t>();
    ESRUN_CHECK(length <= max_positions_, max_positions_where_, ": ", max_positions_, " positions, but an example has ",
                length, " tokens; raise it or lower data.tokenizer.max_length");
    x = x.narrow(2, 0, std::max<int64_t>(1, length));
    const auto ids = x.select(1, 0).to(torch::kLong), segment_plus_one = x.select(1, 1).to(torch::kLong);
    const auto mask = segment_plus_one.gt(0);
    const auto positions = torch::arange(x.size(2), ids.options()).unsqueeze(0);
    auto h = words_->forward(ids) + positions_->forward(positions) + segments_->forward((segment_plus_one - 1).clamp_min(0));
    h = torch::dropout(embedding_norm_->forward(h), embedding_dropout_, is_training());
    if (projection_) h = projection_->forward(h);
    const auto attention_mask = mask.unsqueeze(1).unsqueeze(2);  // [N, 1, 1, T]
    for (int64_t i = 0; i < depth_; ++i)
      h = layers_->ptr<Layer>(layers_->size() == 1 ? 0 : static_cast<size_t>(i))->forward(h, attention_mask);
    if (final_norm_) h = final_norm_->forward(h);
    return torch::tanh(pooler_->forward(h.select(1, 0)));
  }

  bool default_no_decay() const override { return true; }

 private:
  int64_t depth_ = 0, max_positions_ = 512;
  std::string max_positions_where_;  // the key with its origin, for errors at forward time
  double embedding_dropout_ = 0, head_dropout_ = 0;
  torch::nn::Embedding words_{nullptr}, positions_{nullptr}, segments_{nullptr};
  torch::nn::LayerNorm embedding_norm_{nullptr}, final_norm_{nullptr};
  torch::nn::Linear projection_{nullptr}, pooler_{nullptr}, head_{nullptr};
  torch::nn::ModuleList layers_{nullptr};
};

const bool registered = models().add(
    "transformer",
    "BERT-style text encoder on token ids: model.preset tiny | bert-base | albert-base, model.albert (factorised "
    "embeddings, one shared layer), model.norm post | pre, [CLS] pooler and head",
    [](const ModelOptions& o) -> std::shared_ptr<Model> { return std::make_shared<Transformer>(o); },
    {.presets = preset_size.names(), .traits = {"positions"}, .reads = {"model.preset",
        "model.width", "model.activation", "model.dropout", "model.depth", "model.heads", "model.mlp_ratio",
        "model.albert", "model.embedding_size", "model.norm", "model.attention_dropout", "model.head_dropout",
        "model.max_positions"}});

}  // namespace
}  // namespace esrun
