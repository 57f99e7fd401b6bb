// Wall-clock phase timing. On a CUDA device the clock synchronises before each reading, so a
// phase's time includes the kernels it queued. With per_phase false (`timing: epoch`, the default
// on CUDA) it does nothing, so the hot path has no synchronisation and only epoch totals are kept.
#pragma once

#include <torch/torch.h>

#include <chrono>

#include "esrun/core/torch_compat.h"

namespace esrun {

class PhaseClock {
 public:
  explicit PhaseClock(torch::Device device, bool per_phase = true) : device_(device), per_phase_(per_phase) {
    restart();
  }

  void restart() {
    if (!per_phase_) return;
    compat::synchronize(device_);
    last_ = std::chrono::steady_clock::now();
  }

  // Adds the seconds since the previous lap (or restart) to `bucket`.
  void lap(double& bucket) {
    if (!per_phase_) return;
    compat::synchronize(device_);
    const auto now = std::chrono::steady_clock::now();
    bucket += std::chrono::duration<double>(now - last_).count();
    last_ = now;
  }

 private:
  torch::Device device_;
  bool per_phase_;
  std::chrono::steady_clock::time_point last_;
};

}  // namespace esrun
