// `esrun bench`: throughput of the configured model and data at the meta-batch size, phase by
// phase (batch gather + augmentation, scoring forward, training step), after a warm-up. The
// ratio F/T of scoring forward to training step is what the ES paper's cost model needs.
#pragma once

#include <nlohmann/json.hpp>

#include "esrun/commands/run.h"

namespace esrun {

struct BenchOptions {
  int steps = 10;   // timed steps per phase
  int warmup = 2;   // untimed steps first
  int64_t policy_n = 0;  // > 0: also time the sampler's bookkeeping with a training set of this size
};

nlohmann::json bench_throughput(const RunRequest& request, const BenchOptions& options);

}  // namespace esrun
