// When a run checkpoints and when it stops, as one object's decisions that the epoch loop asks for
// (Marian's Scheduler): last.pt after the last epoch, every checkpoint.every epochs and before a
// stop; best.pt when an evaluation beats the best so far (checkpoint.best); a stop after
// --stop-after-epochs epochs of this invocation, on a signal or after a test's step limit. Every
// rank asks alike: the decisions that depend on one rank's view are agreed over the ranks.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <vector>

#include "esrun/commands/run.h"
#include "esrun/metrics/records.h"
#include "esrun/train/data_parallel.h"

namespace esrun {

class CheckpointSchedule {
 public:
  // The run ends after the epoch whose record is `last` (its budget is spent), or after epoch
  // `until` when given (a stage's); `records`: the metrics so far (a resumed run's), whose best
  // evaluation best.pt must beat; `writes`: this rank writes the run directory.
  CheckpointSchedule(const RunConfig& config, const RunRequest& request, std::optional<int64_t> until,
                     DataParallel& replicas, bool writes, const std::vector<nlohmann::json>& records);

  // After each meta-batch step of this invocation.
  void step_done() { ++steps_; }
  // Whether to stop now: a signal to any rank, or the request's step limit (a collective).
  bool stop_requested();
  // The signal that stopped the run, or 0.
  int stopped_by() const { return stopped_by_; }

  struct AfterEpoch {
    bool write_last = false, write_best = false;
    bool go_on = true;  // false after the last epoch or when stopping
  };
  AfterEpoch after_epoch(const EpochRecord& record);

 private:
  const CheckpointOptions options_;
  const std::optional<int64_t> stop_after_epochs_, stop_after_steps_;
  const std::optional<int64_t> until_;
  DataParallel& replicas_;
  const bool writes_;
  std::optional<double> best_score_;
  int64_t epochs_ = 0, steps_ = 0;  // of this invocation
  int stopped_by_ = 0;
};

}  // namespace esrun
