// Phase timing. On the CPU a phase's time is the host clock between two boundaries. On a CUDA
// device each boundary records a CUDA event on the current stream, so timing adds no host
// synchronisation: the intervals are read in settle(), once per epoch. Every build with a CUDA
// libtorch has the events. With per_phase false (`timing: epoch`) the clock does nothing and only
// epoch totals are kept.
#pragma once

#include <torch/torch.h>

#include <chrono>
#include <memory>
#include <utility>
#include <vector>

namespace esrun {

class PhaseClock {
 public:
  explicit PhaseClock(torch::Device device, bool per_phase = true);
  ~PhaseClock();
  PhaseClock(const PhaseClock&) = delete;
  PhaseClock& operator=(const PhaseClock&) = delete;

  // Starts a new interval without charging the time since the last boundary to any phase.
  void restart();
  // Charges the time since the previous boundary (lap or restart) to `bucket`. With CUDA events
  // the seconds reach `bucket` only at settle(), so `bucket` must outlive the next settle().
  void lap(double& bucket);
  // Adds every pending interval to its bucket (waits for the device once). Call before reading
  // the buckets.
  void settle();

 private:
  struct Events;  // CUDA events and the intervals waiting for settle()
  torch::Device device_;
  bool per_phase_;
  std::chrono::steady_clock::time_point last_;
  std::unique_ptr<Events> events_;
};

}  // namespace esrun
