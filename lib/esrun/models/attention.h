// The multi-head self-attention of esrun's transformer models (vit, gpt, transformer) and the check
// of their blocks' sizes. The attention layers are registered on the module that owns them, under
// the names and at the level each model always had (vit: blocks.i.attn.qkv, gpt: blocks.i.qkv,
// transformer: layers.i.query), so checkpoints and imported weights load as before.
#pragma once

#include <torch/torch.h>

#include "esrun/config/run_config.h"

namespace esrun {

// Dropout on the attention weights (when training; BERT's attention_probs_dropout_prob, GPT-2's
// attn_pdrop, timm's attn_drop) and on the projected output (hidden_dropout_prob, resid_pdrop,
// proj_drop).
struct AttentionDropout {
  double weights = 0.0;
  double output = 0.0;
};

// dropout(projection(concat_h softmax(q_h k_h^T / sqrt(d)) v_h)) (Vaswani et al. 2017, eq. 1 and
// section 3.2.2) for the heads q, k, v [N, heads, T, d]: [N, T, heads d]. `mask` and `causal` as
// compat::attention takes them.
torch::Tensor attend_heads(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                           torch::nn::Linear& projection, AttentionDropout dropout, bool training,
                           const torch::Tensor& mask = {}, bool causal = false);

// Self-attention with one fused input projection "qkv" (width -> 3 width, split into q, k and v as
// timm's Attention and GPT-2's c_attn split it) and the output projection "proj" (width -> width).
class FusedSelfAttention {
 public:
  // Holds no layers: for an owner that registers others before these (gpt's norm1).
  FusedSelfAttention() = default;
  // Registers "qkv" then "proj" on `owner`: their initial weights are drawn from the global
  // generator here, in the owner's constructor.
  FusedSelfAttention(torch::nn::Module& owner, int64_t width, int64_t heads, AttentionDropout dropout, bool causal);

  // x [N, T, width] -> [N, T, width].
  torch::Tensor forward(const torch::Tensor& x, bool training);

  const torch::nn::Linear& proj() const { return proj_; }

 private:
  int64_t heads_ = 1;
  AttentionDropout dropout_;
  bool causal_ = false;
  torch::nn::Linear qkv_{nullptr}, proj_{nullptr};
};

// The width of a block's MLP hidden layer, int(model.mlp_ratio * width) as timm's; errors, naming
// the key, unless model.heads divides the width (each head takes width / heads channels) and the
// MLP keeps hidden units.
int64_t checked_hidden_width(const ModelOptions& o, int64_t width, int64_t heads);

}  // namespace esrun
