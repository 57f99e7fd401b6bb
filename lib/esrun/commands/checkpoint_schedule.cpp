#include "esrun/commands/checkpoint_schedule.h"

#include <algorithm>

#include "esrun/core/stop.h"

namespace esrun {

CheckpointSchedule::CheckpointSchedule(const RunConfig& config, const RunRequest& request, std::optional<int64_t> until,
                                       DataParallel& replicas, bool writes, const std::vector<nlohmann::json>& records)
    : options_(config.checkpoint),
      stop_after_epochs_(request.stop_after),
      stop_after_steps_(request.stop_after_steps),
      until_(until),
      replicas_(replicas),
      writes_(writes) {
  for (const auto& r : records)
    if (r.contains("test_score") && !r["test_score"].is_null())
      best_score_ = std::max(best_score_.value_or(r["test_score"].get<double>()), r["test_score"].get<double>());
}

bool CheckpointSchedule::stop_requested() {
  // A signal to any rank stops them all at the same step (the signal is the run's stop code).
  const auto agreed = replicas_.max({stop_signal(), stop_after_steps_ && steps_ >= *stop_after_steps_ ? 1 : 0});
  stopped_by_ = static_cast<int>(agreed[0]);
  return agreed[0] != 0 || agreed[1] != 0;
}

CheckpointSchedule::AfterEpoch CheckpointSchedule::after_epoch(const EpochRecord& record) {
  AfterEpoch next;
  const bool last = record.last || (until_ && record.epoch + 1 == *until_);
  const bool stopping = !last && ((stop_after_epochs_ && ++epochs_ >= *stop_after_epochs_) || stop_requested());
  next.write_last = last || stopping || (options_.every > 0 && (record.epoch + 1) % options_.every == 0);
  // Rank 0's view decides (every rank must take part in the checkpoint's collectives alike).
  const bool best = options_.best && record.evaluated && (!best_score_ || record.test.score > *best_score_);
  next.write_best = replicas_.max({best && writes_ ? 1 : 0})[0] != 0;
  if (record.evaluated) best_score_ = std::max(best_score_.value_or(record.test.score), record.test.score);
  next.go_on = !stopping && !last;
  return next;
}

}  // namespace esrun
