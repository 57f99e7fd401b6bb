#include "esrun/sampling/policy.h"

#include "esrun/core/error.h"
#include "esrun/core/rng.h"
#include "esrun/core/torch_compat.h"

namespace esrun {

SamplerRegistry& samplers() {
  static SamplerRegistry registry("sampler");
  return registry;
}

SelectionPolicy::SelectionPolicy(const PolicyContext& context)
    : context_(context), generator_(compat::make_cpu_generator(context.seed)) {}

void SelectionPolicy::save(torch::serialize::OutputArchive& archive) const {
  save_generator(archive, "generator", generator_);
  save_state(archive);
}

void SelectionPolicy::load(torch::serialize::InputArchive& archive) {
  // Checkpoints of policies that draw no random numbers predate the common stream: keep the fresh one.
  torch::Tensor present;
  if (archive.try_read("generator", present)) load_generator(archive, "generator", generator_);
  load_state(archive);
}

const ScoresFile& scores_of(const PolicyContext& context, const std::string& sampler) {
  ESRUN_INTERNAL_CHECK(context.scores, "the ", sampler, " policy was made without its scores file");
  return *context.scores;
}

EpochPlan SelectionPolicy::plan_epoch(int64_t /*epoch*/) {
  return EpochPlan{torch::arange(context_.train_size, torch::TensorOptions(torch::kLong).device(context_.device)), {}};
}

}  // namespace esrun
