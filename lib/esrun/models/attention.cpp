#include "esrun/models/attention.h"

#include "esrun/core/error.h"
#include "esrun/core/torch_compat.h"

namespace esrun {

torch::Tensor attend_heads(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                           torch::nn::Linear& projection, AttentionDropout dropout, bool training,
                           const torch::Tensor& mask, bool causal) {
  const auto out = compat::attention(q, k, v, dropout.weights, training, mask, causal);
  const int64_t n = out.size(0), tokens = out.size(2), width = out.size(1) * out.size(3);
  return torch::dropout(projection->forward(out.transpose(1, 2).reshape({n, tokens, width})), dropout.output, training);
}

FusedSelfAttention::FusedSelfAttention(torch::nn::Module& owner, int64_t width, int64_t heads, AttentionDropout dropout,
                                       bool causal)
    : heads_(heads), dropout_(dropout), causal_(causal) {
  qkv_ = owner.register_module("qkv", torch::nn::Linear(width, 3 * width));
  proj_ = owner.register_module("proj", torch::nn::Linear(width, width));
}

torch::Tensor FusedSelfAttention::forward(const torch::Tensor& x, bool training) {
  const int64_t n = x.size(0), tokens = x.size(1), width = x.size(2);
  // [N, T, 3D] -> [3, N, heads, T, d]
  const auto qkv = qkv_->forward(x).reshape({n, tokens, 3, heads_, width / heads_}).permute({2, 0, 3, 1, 4});
  return attend_heads(qkv[0], qkv[1], qkv[2], proj_, dropout_, training, {}, causal_);
}

int64_t checked_hidden_width(const ModelOptions& o, int64_t width, int64_t heads) {
  ESRUN_CHECK(width % heads == 0, o.where("model.heads"), ": ", heads, " does not divide model.width = ", width,
              "; each head takes width / heads channels");
  const auto hidden = static_cast<int64_t>(o.mlp_ratio * static_cast<double>(width));  // timm: int(D * mlp_ratio)
  ESRUN_CHECK(hidden >= 1, o.where("model.mlp_ratio"), ": ", o.mlp_ratio, " times model.width = ", width,
              " leaves the blocks' MLPs no hidden units");
  return hidden;
}

}  // namespace esrun
