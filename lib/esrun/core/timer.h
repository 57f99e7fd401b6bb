// Wall-clock phase timing. On a CUDA device the clock synchronises before each reading, so a
// phase's time includes the kernels it queued; this happens only at measured phase boundaries.
#pragma once

#include <torch/torch.h>

#include <chrono>

#include "esrun/core/torch_compat.h"

namespace esrun {

class PhaseClock {
 public:
  explicit PhaseClock(torch::Device device) : device_(device) { restart(); }

  void restart() {
    compat::synchronize(device_);
    last_ = std::chrono::steady_clock::now();
  }

  // Adds the seconds since the previous lap (or restart) to `bucket`.
  void lap(double& bucket) {
    compat::synchronize(device_);
    const auto now = std::chrono::steady_clock::now();
    bucket += std::chrono::duration<double>(now - last_).count();
    last_ = now;
  }

 private:
  torch::Device device_;
  std::chrono::steady_clock::time_point last_;
};

}  // namespace esrun
