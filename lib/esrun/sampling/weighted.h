// Vectorised sampling helpers shared by the policies.
#pragma once

#include <torch/torch.h>

#include <cstdint>

#include "esrun/core/rng.h"  // save_generator, load_generator, load_tensor

namespace esrun {

// k of weights.size(0) positions sampled without replacement proportionally to `weights`
// (successive draws proportional to the remaining weights, as torch.multinomial(w, k, false)),
// as Gumbel-top-k: the k largest of log(w + tiny) + Gumbel noise. Uniform noise comes from `gen`
// (CPU) and moves to the weights' device. Returns int64 positions on that device.
torch::Tensor sample_without_replacement(const torch::Tensor& weights, int64_t k, at::Generator& gen);

// The mini-batch for a meta-batch of `size` rows: b for a full one, max(1, round(b * size / B))
// for the last, smaller one (docs/methods.md, es).
int64_t mini_batch_for(int64_t size, int64_t mini_batch, int64_t meta_batch);

}  // namespace esrun
