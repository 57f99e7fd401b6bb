#include "esrun/core/timer.h"

#include "esrun/core/torch_compat.h"

namespace esrun {

#ifdef ESRUN_WITH_CUDA
// Events are recorded in order into a pool that is reused after each settle(); an interval is a
// bucket and the indices of its two events.
struct PhaseClock::Events {
  static constexpr size_t kSettleEvery = 4096;  // bounds the pool on very long epochs
  std::vector<compat::CudaEvent> pool;
  size_t used = 0;
  std::vector<std::pair<double*, size_t>> pending;  // bucket, index of the interval's end event
  c10::DeviceIndex device;

  explicit Events(const torch::Device& d) : device(d.has_index() ? d.index() : c10::DeviceIndex(-1)) {}
  size_t record() {
    if (used == pool.size()) pool.emplace_back(cudaEventDefault);  // timing enabled
    pool[used].record(c10::cuda::getCurrentCUDAStream(device));
    return used++;
  }
  void settle() {
    if (pending.empty()) return;
    pool[used - 1].synchronize();
    for (const auto& [bucket, end] : pending) *bucket += pool[end - 1].elapsed_time(pool[end]) / 1000.0;
    pending.clear();
    std::swap(pool[0], pool[used - 1]);  // the last boundary starts the next interval
    used = 1;
  }
};
#else
struct PhaseClock::Events {};
#endif

PhaseClock::PhaseClock(torch::Device device, bool per_phase) : device_(device), per_phase_(per_phase) {
#ifdef ESRUN_WITH_CUDA
  if (per_phase_ && device_.is_cuda()) events_ = std::make_unique<Events>(device_);
#endif
  restart();
}

PhaseClock::~PhaseClock() = default;

void PhaseClock::restart() {
  if (!per_phase_) return;
#ifdef ESRUN_WITH_CUDA
  if (events_) {
    if (events_->pending.empty()) events_->used = 0;
    events_->record();
    return;
  }
#endif
  last_ = std::chrono::steady_clock::now();
}

void PhaseClock::lap(double& bucket) {
  if (!per_phase_) return;
#ifdef ESRUN_WITH_CUDA
  if (events_) {
    // An interval always ends at the event recorded right after its start.
    events_->pending.emplace_back(&bucket, events_->record());
    if (events_->pending.size() >= Events::kSettleEvery) events_->settle();
    return;
  }
#endif
  const auto now = std::chrono::steady_clock::now();
  bucket += std::chrono::duration<double>(now - last_).count();
  last_ = now;
}

void PhaseClock::settle() {
#ifdef ESRUN_WITH_CUDA
  if (events_) events_->settle();
#endif
}

}  // namespace esrun
