// A run's TensorBoard log (logging.tensorboard, docs/tensorboard.md): the scalars of each epoch's
// metrics line in the run directory, at TensorBoard step = the epoch (1-based); with `every_steps`
// > 0 also the training loss and learning rate every that many steps, in the run directory's
// steps/ folder, at step = the samples back-propagated so far. Two folders, because TensorBoard
// reads them as two runs: a resumed run's restart mark (which drops the points the interrupted run
// wrote after its checkpoint) then serves each step axis on its own.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "esrun/metrics/progress.h"
#include "esrun/metrics/tensorboard.h"

namespace esrun {

class TensorBoardLog {
 public:
  // `records`: the metrics lines of the epochs done so far (a resumed run's): a restart mark keeps
  // them in the folder's earlier files, or they are written first when it has none.
  TensorBoardLog(const std::filesystem::path& run_dir, int64_t every_steps, const std::vector<nlohmann::json>& records,
                 bool resumed);
  void epoch(const nlohmann::json& record);  // after each epoch's metrics line; flushes
  void step(const StepProgress& step);       // after each training step

 private:
  TensorBoardWriter epochs_;
  std::optional<TensorBoardWriter> steps_;
  int64_t every_ = 0, steps_seen_ = 0;
  int64_t samples_before_epoch_ = 0;  // back-propagated before the current epoch
  bool restart_steps_ = false;        // a resumed run marks its first step
  // The epoch's loss sum and samples at the last point, to average over the steps since.
  int64_t last_epoch_ = -1, last_trained_ = 0;
  double last_loss_sum_ = 0;
};

// The scalars of one metrics.jsonl line as TensorBoard tags: test_<m> -> test/<m>, time.<phase> ->
// time/<phase>, every other number -> train/<field> (train/loss, train/lr, train/samples_backward,
// ...); null metrics are left out.
std::vector<std::pair<std::string, double>> epoch_scalars(const nlohmann::json& record);

}  // namespace esrun
