#include "esrun/sampling/policy.h"

namespace esrun {

SamplerRegistry& samplers() {
  static SamplerRegistry registry("sampler");
  return registry;
}

EpochPlan SelectionPolicy::plan_epoch(int64_t /*epoch*/) {
  return EpochPlan{torch::arange(context_.train_size, torch::TensorOptions(torch::kLong).device(context_.device)), {}};
}

}  // namespace esrun
