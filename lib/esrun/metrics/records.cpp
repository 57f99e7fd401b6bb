#include "esrun/metrics/records.h"

namespace esrun {

nlohmann::json to_json(const EpochRecord& r) {
  using nlohmann::json;
  const auto optional = [](const std::optional<double>& v) { return v ? json(*v) : json(nullptr); };
  const auto test = [&](const std::optional<double>& v) { return r.evaluated ? optional(v) : json(nullptr); };
  const auto when_evaluated = [&](double v) { return r.evaluated ? json(v) : json(nullptr); };
  const auto phase = [&](double v) { return r.time.per_phase ? json(v) : json(nullptr); };
  return json{
      {"epoch", r.epoch},
      {"lr", r.lr},
      {"train_loss", r.train_loss},
      {"train_acc", r.train_acc},
      {"test_loss", when_evaluated(r.test.loss)},
      {"test_acc", test(r.test.acc)},
      {"test_acc5", test(r.test.acc5)},
      {"test_mse", test(r.test.mse)},
      {"test_rmse", test(r.test.rmse)},
      {"test_mae", test(r.test.mae)},
      {"test_r2", test(r.test.r2)},
      {"test_f1", test(r.test.f1)},
      {"test_mcc", test(r.test.mcc)},
      {"test_pearson", test(r.test.pearson)},
      {"test_spearman", test(r.test.spearman)},
      {"test_perplexity", test(r.test.perplexity)},
      {"test_score", when_evaluated(r.test.score)},
      {"samples_forward", r.samples_forward},
      {"samples_backward", r.samples_backward},
      {"samples_backward_total", r.samples_backward_total},
      {"backward_passes", r.backward_passes},
      {"epoch_dataset_size", r.epoch_dataset_size},
      {"noisy_backward_fraction", optional(r.noisy_backward_fraction)},
      {"time",
       {{"epoch_total", r.time.epoch_total},
        {"data", phase(r.time.data)},
        {"score_forward", phase(r.time.score_forward)},
        {"select", phase(r.time.select)},
        {"train_step", phase(r.time.train_step)},
        {"gather", r.time.gather},
        {"reduce", r.time.reduce},
        {"eval", r.time.eval},
        {"train_total_so_far", r.time.train_total_so_far}}},
  };
}

}  // namespace esrun
