#include "esrun/metrics/records.h"

namespace esrun {

nlohmann::json to_json(const EpochRecord& r) {
  using nlohmann::json;
  const auto optional = [](const std::optional<double>& v) { return v ? json(*v) : json(nullptr); };
  const auto when_evaluated = [&](double v) { return r.evaluated ? json(v) : json(nullptr); };
  const auto phase = [&](double v) { return r.time.per_phase ? json(v) : json(nullptr); };
  return json{
      {"epoch", r.epoch},
      {"lr", r.lr},
      {"train_loss", r.train_loss},
      {"train_acc", r.train_acc},
      {"test_loss", when_evaluated(r.test_loss)},
      {"test_acc", when_evaluated(r.test_acc)},
      {"test_acc5", r.evaluated ? optional(r.test_acc5) : json(nullptr)},
      {"samples_forward", r.samples_forward},
      {"samples_backward", r.samples_backward},
      {"samples_backward_total", r.samples_backward_total},
      {"epoch_dataset_size", r.epoch_dataset_size},
      {"noisy_backward_fraction", optional(r.noisy_backward_fraction)},
      {"time",
       {{"epoch_total", r.time.epoch_total},
        {"data", phase(r.time.data)},
        {"score_forward", phase(r.time.score_forward)},
        {"select", phase(r.time.select)},
        {"train_step", phase(r.time.train_step)},
        {"eval", r.time.eval},
        {"train_total_so_far", r.time.train_total_so_far}}},
  };
}

}  // namespace esrun
