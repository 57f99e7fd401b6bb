// `esrun bench`: throughput of the configured model and data at the meta-batch size, phase by
// phase (batch gather + augmentation, scoring forward, training step), after a warm-up. The
// ratio F/T of scoring forward to training step is what the ES paper's cost model needs; the
// training step's seconds at b = B/8, 2B/8, ..., B give the break-even b/B below which selection
// within a meta-batch can save time on this device with this model (a small step does not cost b/B
// of a large one).
#pragma once

#include <nlohmann/json.hpp>

#include <vector>

#include "esrun/commands/run.h"

namespace esrun {

struct BenchOptions {
  int steps = 10;   // timed steps per phase
  int warmup = 2;   // untimed steps first
  int64_t policy_n = 0;  // > 0: also time the sampler's bookkeeping with a training set of this size
};

nlohmann::json bench_throughput(const RunRequest& request, const BenchOptions& options);

// A training step's measured seconds at one batch size.
struct StepCost {
  int64_t rows = 0;
  double seconds = 0;
};

// The largest b/B at which a batch-level method (a scoring forward of the B rows, then a step on
// b of them) costs less per meta-batch than uniform's step on all B: the b where
// forward + step(b) = step(B), with step(b) interpolated linearly between the measured sizes
// (`steps`, any order, B among them). 0 when even the smallest measured step plus the forward
// costs step(B) or more; 1 when the forward is free.
double break_even_ratio(double forward_seconds, std::vector<StepCost> steps, int64_t meta_batch);

}  // namespace esrun
