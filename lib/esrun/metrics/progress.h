// Live progress: a single redrawn line on a terminal (step, epoch, loss, img/s, ETA) and plain
// periodic log lines otherwise (log files, CI, Slurm). The running loss is a device tensor read only
// when a line is drawn, so progress adds at most one host read per redraw.
#pragma once

#include <torch/torch.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace esrun {

// Where an epoch stands after one of its meta-batch steps.
struct StepProgress {
  int64_t epoch = 0, epochs = 0;  // 0-based epoch, of `epochs`
  int64_t step = 0, steps = 0;    // steps done, of `steps`
  int64_t images = 0;             // images through a forward pass (scoring or training) this epoch
  double seconds = 0;             // spent in this epoch so far
  torch::Tensor loss_sum;         // summed training loss of the epoch so far (on the device)
  int64_t trained = 0;            // samples it sums over
  double lr = 0;                  // the learning rate of this step
};

enum class ProgressMode { Bar, Lines, Off };

// "auto" picks Bar when stderr is a terminal and Lines otherwise.
ProgressMode progress_mode(const std::string& configured);

class ProgressReporter {
 public:
  ProgressReporter(ProgressMode mode, double line_every_seconds);
  ~ProgressReporter();

  void step(const StepProgress& progress);
  // Clears the bar before other output and records the epoch's duration for the ETA.
  void epoch_done(double epoch_seconds);
  void clear();

  // The text of one progress report (no colour, no carriage return); exposed for tests.
  std::string describe(const StepProgress& progress) const;

 private:
  ProgressMode mode_;
  double every_;
  std::chrono::steady_clock::time_point last_draw_;
  bool drawn_ = false;
  double finished_seconds_ = 0;
  int64_t finished_epochs_ = 0;
};

}  // namespace esrun
