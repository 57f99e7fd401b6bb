// gpt: a GPT-2-style decoder (Radford et al. 2019) for causal language modelling on token ids
// [N, 2, L] (channel 0; right padding needs no mask under causal attention), returning logits per
// position [N, L, vocab].
//   embeddings: token + learned position (model.max_positions), dropout;
//   N blocks (model.depth): x + attention(LayerNorm(x)), then x + MLP(LayerNorm(x)) with width ->
//     mlp_ratio * width -> width (model.activation, GPT-2's tanh-approximated GELU), causal
//     multi-head self-attention (model.heads), dropout (model.dropout) on the attention weights
//     and after the attention and MLP outputs;
//   a final LayerNorm and the output layer tied to the token embedding (logits = h E^T).
// Initialisation is GPT-2's: weights N(0, 0.02), the residual output projections N(0, 0.02 /
// sqrt(2 depth)), biases 0, LayerNorm 1 and 0 (eps 1e-5). Presets: tiny (width 128, 2 blocks, 4
// heads; trains on two CPU cores) and small (GPT-2 small: 768, 12 blocks, 12 heads; 124M
// parameters with GPT-2's 50,257-token vocabulary and 1,024 positions).
#include <cmath>

#include "esrun/core/error.h"
#include "esrun/models/attention.h"
#include "esrun/models/model.h"

namespace esrun {
namespace {

struct Size {
  int64_t width, depth, heads;
};

const Presets<Size> preset_size = {{"tiny", {128, 2, 4}}, {"small", {768, 12, 12}}};

class Block final : public torch::nn::Module {
 public:
  Block(int64_t width, int64_t heads, int64_t hidden, double dropout, std::string activation)
      : dropout_(dropout), activation_(std::move(activation)) {
    norm1_ = register_module("norm1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({width})));
    attention_ = FusedSelfAttention(*this, width, heads, {.weights = dropout, .output = dropout}, /*causal=*/true);
    norm2_ = register_module("norm2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({width})));
    fc1_ = register_module("fc1", torch::nn::Linear(width, hidden));
    fc2_ = register_module("fc2", torch::nn::Linear(hidden, width));
  }

  torch::Tensor forward(torch::Tensor x) {
    x = x + attention_.forward(norm1_->forward(x), is_training());
    const auto mlp = fc2_->forward(activate(fc1_->forward(norm2_->forward(x)), activation_));
    return x + torch::dropout(mlp, dropout_, is_training());
  }

  // The layers whose outputs join the residual stream (GPT-2 scales their initialisation).
  std::vector<torch::nn::Linear> residual_outputs() const { return {attention_.proj(), fc2_}; }

 private:
  double dropout_;
  std::string activation_;
  torch::nn::LayerNorm norm1_{nullptr}, norm2_{nullptr};
  FusedSelfAttention attention_;
  torch::nn::Linear fc1_{nullptr}, fc2_{nullptr};
};

class Gpt final : public Model {
 public:
  explicit Gpt(const ModelOptions& o) {
    ESRUN_CHECK(o.vocab_size > 0 && o.input_shape.size() == 2, o.where("model.name"),
                ": gpt takes token ids (text_lm, tokens_jsonl), but the dataset gives ", input_kind(o));
    ESRUN_CHECK(o.per_token, o.where("model.name"),
                ": gpt predicts the next token at every position; use task.name: causal_lm (or model.name: "
                "transformer to classify sequences)");
    const Size preset = preset_size(o.preset);
    const int64_t width = o.width.value_or(preset.width), heads = o.heads.value_or(preset.heads);
    const int64_t depth = o.depth.value_or(preset.depth);
    const int64_t hidden = checked_hidden_width(o, width, heads);
    max_positions_ = o.max_positions;
    max_positions_where_ = o.where("model.max_positions");
    ESRUN_CHECK(o.input_shape[1] <= max_positions_, o.where("model.max_positions"), ": ", max_positions_,
                " positions, but the examples have up to ", o.input_shape[1],
                " tokens; raise it, or shorten the sequences (data.tokenizer.max_length)");
    dropout_ = o.dropout.value_or(0.1);
    const std::string activation = o.activation.value_or("gelu_tanh");

    tokens_ = register_module("token_embeddings", torch::nn::Embedding(o.vocab_size, width));
    positions_ = register_module("position_embeddings", torch::nn::Embedding(max_positions_, width));
    blocks_ = register_module("blocks", torch::nn::ModuleList());
    for (int64_t i = 0; i < depth; ++i) blocks_->push_back(std::make_shared<Block>(width, heads, hidden, dropout_, activation));
    final_norm_ = register_module("final_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({width})));
    init_weights(depth);
  }

  torch::Tensor forward(torch::Tensor x) override {
    ESRUN_CHECK(x.dim() == 3 && x.size(1) == 2, "gpt: expected token ids [N, 2, L], got ", x.sizes());
    ESRUN_CHECK(x.size(2) <= max_positions_, max_positions_where_, ": ", max_positions_, " positions, but a batch has ",
                x.size(2), " tokens per example");
    const auto ids = x.select(1, 0).to(torch::kLong);
    const auto positions = torch::arange(x.size(2), ids.options()).unsqueeze(0);
    auto h = torch::dropout(tokens_->forward(ids) + positions_->forward(positions), dropout_, is_training());
    for (const auto& block : *blocks_) h = block->as<Block>()->forward(h);
    return torch::matmul(final_norm_->forward(h), tokens_->weight.t());
  }

  bool default_no_decay() const override { return true; }

 private:
  void init_weights(int64_t depth) {
    init_normal(*this);
    torch::NoGradGuard no_grad;
    for (const auto& block : *blocks_)
      for (auto& linear : block->as<Block>()->residual_outputs())
        linear->weight.normal_(0.0, 0.02 / std::sqrt(2.0 * static_cast<double>(depth)));
  }

  int64_t max_positions_ = 512;
  std::string max_positions_where_;  // the key with its origin, for errors at forward time
  double dropout_ = 0.1;
  torch::nn::Embedding tokens_{nullptr}, positions_{nullptr};
  torch::nn::ModuleList blocks_{nullptr};
  torch::nn::LayerNorm final_norm_{nullptr};
};

const bool registered = models().add(
    "gpt",
    "GPT-2-style decoder for causal_lm: model.preset tiny | small, causal self-attention, tied output embedding; "
    "logits per position",
    [](const ModelOptions& o) -> std::shared_ptr<Model> { return std::make_shared<Gpt>(o); },
    {.presets = preset_size.names(), .tasks = {"causal_lm"}, .traits = {"positions"}, .reads = {"model.preset",
        "model.width", "model.activation", "model.dropout", "model.depth", "model.heads", "model.mlp_ratio",
        "model.max_positions"}});

}  // namespace
}  // namespace esrun
