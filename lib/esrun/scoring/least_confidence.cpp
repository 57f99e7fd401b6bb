// least_confidence (DeepCore's Uncertainty, Coleman et al. 2020): 1 - max_k softmax(f(x))_k of the
// model after score.epoch epochs on the un-augmented sample in eval mode. High = uncertain = hard;
// keeping the highest keeps the least confident, as DeepCore's class-balanced selection does.
#include "esrun/scoring/uncertainty.h"

namespace esrun {
namespace {

torch::Tensor least_confidence(const torch::Tensor& p) { return 1.0 - std::get<0>(p.max(1)); }

const bool registered = scorers().add_type<UncertaintyScorer>(
    "least_confidence", "1 - the largest softmax probability at score.epoch (DeepCore's Uncertainty)", {},
    least_confidence);

}  // namespace
}  // namespace esrun
