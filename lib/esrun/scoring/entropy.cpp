// entropy (DeepCore's Uncertainty): -sum_k p_k log p_k of the softmax of the model after
// score.epoch epochs on the un-augmented sample in eval mode. High = uncertain = hard.
#include "esrun/scoring/uncertainty.h"

namespace esrun {
namespace {

// The clamp keeps 0 log 0 at 0 (its limit) where a probability underflows to 0, not NaN.
torch::Tensor entropy(const torch::Tensor& p) { return -(p * p.clamp_min(1e-30).log()).sum(1); }

const bool registered = scorers().add_type<UncertaintyScorer>(
    "entropy", "-sum p log p of the softmax at score.epoch (DeepCore's Uncertainty)", {}, entropy);

}  // namespace
}  // namespace esrun
