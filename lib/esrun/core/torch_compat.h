// Every difference between the libtorch versions esrun builds against (Debian's 1.13 on CPU, the
// 2.x shipped inside PyTorch for CUDA builds) lives in this header and nowhere else.
#pragma once

#include <torch/torch.h>
#include <torch/version.h>

#include <string>

namespace esrun::compat {

inline std::string libtorch_version() { return TORCH_VERSION; }

// A CPU generator with its own seed, independent of the global one.
inline at::Generator make_cpu_generator(uint64_t seed) {
  return at::make_generator<at::CPUGeneratorImpl>(seed);
}

// Seeds libtorch's global CPU generator for the guard's lifetime and restores its state after:
// module initialisers draw from it and take no generator argument.
class ScopedGlobalSeed {
 public:
  explicit ScopedGlobalSeed(uint64_t seed) : generator_(at::detail::getDefaultCPUGenerator()) {
    std::lock_guard<std::mutex> lock(generator_.mutex());
    saved_ = generator_.get_state();
    generator_.set_current_seed(seed);
  }
  ~ScopedGlobalSeed() {
    std::lock_guard<std::mutex> lock(generator_.mutex());
    generator_.set_state(saved_);
  }
  ScopedGlobalSeed(const ScopedGlobalSeed&) = delete;
  ScopedGlobalSeed& operator=(const ScopedGlobalSeed&) = delete;

 private:
  at::Generator generator_;
  at::Tensor saved_;
};

// Waits for queued device work; a no-op on CPU. Used only at measured phase boundaries.
inline void synchronize(const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
}

// libtorch 1.13 and 2.x both expose per-group learning rates through OptimizerOptions.
inline void set_learning_rate(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
}

}  // namespace esrun::compat
