#include "esrun/metrics/tensorboard_log.h"

namespace esrun {
namespace {

bool has_earlier_file(const std::filesystem::path& folder, const std::filesystem::path& mine) {
  for (const auto& entry : std::filesystem::directory_iterator(folder))
    if (entry.path() != mine && entry.path().filename().string().rfind("events.out.tfevents.", 0) == 0) return true;
  return false;
}

}  // namespace

std::vector<std::pair<std::string, double>> epoch_scalars(const nlohmann::json& record) {
  std::vector<std::pair<std::string, double>> out;
  for (const auto& [key, value] : record.items()) {
    if (key == "time") {
      for (const auto& [phase, seconds] : value.items())
        if (seconds.is_number()) out.emplace_back("time/" + phase, seconds.get<double>());
    } else if (key != "epoch" && value.is_number()) {
      const bool test = key.rfind("test_", 0) == 0, train = key.rfind("train_", 0) == 0;
      out.emplace_back(test ? "test/" + key.substr(5) : train ? "train/" + key.substr(6) : "train/" + key,
                       value.get<double>());
    }
  }
  return out;
}

TensorBoardLog::TensorBoardLog(const std::filesystem::path& run_dir, int64_t every_steps,
                               const std::vector<nlohmann::json>& records, bool resumed)
    : epochs_(run_dir), every_(every_steps), restart_steps_(resumed) {
  // A resumed run's folder that holds no earlier file (--out elsewhere, or logging switched on at
  // resume) gets the epochs done so far first; else they are in the earlier files.
  if (resumed && !has_earlier_file(run_dir, epochs_.path())) {
    for (const auto& record : records) epochs_.scalars(record["epoch"].get<int64_t>() + 1, epoch_scalars(record));
  } else if (resumed) {
    epochs_.restart(static_cast<int64_t>(records.size()) + 1);
  }
  epochs_.flush();
  if (!records.empty()) samples_before_epoch_ = records.back().value("samples_backward_total", int64_t{0});
  if (every_ > 0) steps_.emplace(run_dir / "steps");
}

void TensorBoardLog::epoch(const nlohmann::json& record) {
  epochs_.scalars(record["epoch"].get<int64_t>() + 1, epoch_scalars(record));
  epochs_.flush();
  samples_before_epoch_ = record["samples_backward_total"].get<int64_t>();
}

void TensorBoardLog::step(const StepProgress& step) {
  if (!steps_) return;
  const int64_t samples = samples_before_epoch_ + step.trained;
  // An interrupted run's points after its checkpoint were at this step or later (the same steps
  // again): TensorBoard drops them at this mark.
  if (restart_steps_) {
    steps_->restart(samples);
    restart_steps_ = false;
  }
  if (++steps_seen_ % every_ != 0) return;
  // The running sums restart with each epoch (and a resumed run's first point averages over the
  // epoch so far).
  if (step.epoch != last_epoch_) {
    last_epoch_ = step.epoch;
    last_trained_ = 0;
    last_loss_sum_ = 0;
  }
  const double loss_sum = step.loss_sum.defined() ? step.loss_sum.item<double>() : 0.0;  // one device sync
  std::vector<std::pair<std::string, double>> values = {{"steps/lr", step.lr}};
  if (step.trained > last_trained_)
    values.emplace_back("steps/train_loss", (loss_sum - last_loss_sum_) / static_cast<double>(step.trained - last_trained_));
  last_trained_ = step.trained;
  last_loss_sum_ = loss_sum;
  steps_->scalars(samples, values);
  steps_->flush();
}

}  // namespace esrun
