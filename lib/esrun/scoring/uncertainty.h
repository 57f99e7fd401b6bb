// The uncertainty scores (DeepCore's Uncertainty, Coleman et al. 2020): a formula over each row of
// the softmax probabilities of the model after score.epoch epochs on the un-augmented sample in
// eval mode. High = uncertain = hard. Each method's file registers this scorer with its formula
// (entropy.cpp, least_confidence.cpp, margin.cpp).
#pragma once

#include <torch/torch.h>

#include "esrun/scoring/scorer.h"

namespace esrun {

// Probabilities p [m, K] -> a score per row [m].
using UncertaintyFormula = torch::Tensor (*)(const torch::Tensor& p);

class UncertaintyScorer final : public Scorer {
 public:
  UncertaintyScorer(ScorerContext context, UncertaintyFormula formula)
      : Scorer(std::move(context)), formula_(formula) {}

  torch::Tensor score(Trainer& trainer, const torch::Tensor& rows) override;

 private:
  UncertaintyFormula formula_;
};

}  // namespace esrun
