// Every difference between the libtorch versions esrun builds against (Debian's 1.13 on CPU, the
// 2.x shipped inside PyTorch for CUDA builds) lives in this header and nowhere else.
#pragma once

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/autocast_mode.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <cmath>
#include <limits>
#include <optional>
#include <string>

#ifdef ESRUN_WITH_CUDA
#include <c10/cuda/CUDAStream.h>
// The CUDA event class moved from ATen to c10 (the ATen header of older releases also pulls in
// CUDAContext.h and with it the cuBLAS, cuSPARSE and cuSOLVER headers).
#if __has_include(<c10/cuda/CUDAEvent.h>)
#include <c10/cuda/CUDAEvent.h>
namespace esrun::compat { using CudaEvent = c10::cuda::CUDAEvent; }
#else
#include <ATen/cuda/CUDAEvent.h>
namespace esrun::compat { using CudaEvent = at::cuda::CUDAEvent; }
#endif
#endif

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

// libtorch 1.13 and 2.x both expose per-group learning rates through OptimizerOptions.
// Group i's learning rate is lr * scales[i] (all lr when scales is empty).
inline void set_learning_rate(torch::optim::Optimizer& optimizer, double lr, const std::vector<double>& scales = {}) {
  auto& groups = optimizer.param_groups();
  for (size_t i = 0; i < groups.size(); ++i) groups[i].options().set_lr(lr * (i < scales.size() ? scales[i] : 1.0));
}

// Drops the gradients (as `zero_grad(set_to_none=True)`, 2.x's default) instead of filling them
// with zeros: the next backward writes them without a memset kernel per parameter.
inline void zero_grad(torch::optim::Optimizer& optimizer) {
#if TORCH_VERSION_MAJOR >= 2
  optimizer.zero_grad(/*set_to_none=*/true);
#else
  for (auto& group : optimizer.param_groups()) {
    for (auto& p : group.params()) p.mutable_grad().reset();
  }
#endif
}

// PyTorch 2.4 renamed the autocast switches to take the device type and deprecated the old names.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define ESRUN_AUTOCAST_BY_DEVICE_TYPE 1
#endif

inline bool autocast_enabled(c10::DeviceType type) {
#ifdef ESRUN_AUTOCAST_BY_DEVICE_TYPE
  return at::autocast::is_autocast_enabled(type);
#else
  return type == c10::DeviceType::CUDA ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
#endif
}

inline at::ScalarType autocast_dtype(c10::DeviceType type) {
#ifdef ESRUN_AUTOCAST_BY_DEVICE_TYPE
  return at::autocast::get_autocast_dtype(type);
#else
  return type == c10::DeviceType::CUDA ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
#endif
}

inline void set_autocast(c10::DeviceType type, bool enabled, at::ScalarType dtype) {
#ifdef ESRUN_AUTOCAST_BY_DEVICE_TYPE
  at::autocast::set_autocast_enabled(type, enabled);
  at::autocast::set_autocast_dtype(type, dtype);
#else
  if (type == c10::DeviceType::CUDA) {
    at::autocast::set_enabled(enabled);
    at::autocast::set_autocast_gpu_dtype(dtype);
  } else {
    at::autocast::set_cpu_enabled(enabled);
    at::autocast::set_autocast_cpu_dtype(dtype);
  }
#endif
}

// Mixed precision for the guard's lifetime, as Python's `torch.autocast(device_type, dtype)`:
// eligible ops (convolutions, matmuls) run in `dtype`, the rest in fp32. No-op for fp32.
class AutocastGuard {
 public:
  AutocastGuard(const torch::Device& device, std::optional<at::ScalarType> dtype)
      : type_(device.type()), active_(dtype.has_value()) {
    if (!active_) return;
    enabled_before_ = autocast_enabled(type_);
    dtype_before_ = autocast_dtype(type_);
    set_autocast(type_, true, *dtype);
    at::autocast::increment_nesting();
  }
  ~AutocastGuard() {
    if (!active_) return;
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    set_autocast(type_, enabled_before_, dtype_before_);
  }
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  c10::DeviceType type_;
  bool active_;
  bool enabled_before_ = false;
  at::ScalarType dtype_before_ = at::kFloat;
};

inline void set_cudnn_benchmark(bool enabled) { at::globalContext().setBenchmarkCuDNN(enabled); }

// Scaled dot-product attention on [N, heads, T, d] tensors, softmax(q k^T / sqrt(d)) v (Vaswani et
// al. 2017, eq. 1), with dropout on the attention weights when training. `mask` (optional, bool,
// broadcastable to [N, heads, T, T]) is true where a query may attend to a key: padding is masked
// out of the keys; `causal` masks every key after its query instead (decoders; no `mask` then). 2.x fuses it into one kernel (flash or memory-efficient attention on CUDA) that
// never holds the T x T weights; its signature there is (query, key, value, attn_mask, dropout_p,
// is_causal, scale, enable_gqa), the last two added in 2.1 and 2.5, so only the first five are passed.
inline at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double dropout_p,
                            bool training, const at::Tensor& mask = {}, bool causal = false) {
  TORCH_CHECK(!(causal && mask.defined()), "attention: pass a mask or causal, not both");
#if TORCH_VERSION_MAJOR >= 2
  return at::scaled_dot_product_attention(q, k, v, mask.defined() ? std::optional<at::Tensor>(mask) : std::nullopt,
                                          training ? dropout_p : 0.0, causal);
#else
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  auto scores = at::matmul(q * scale, k.transpose(-2, -1));
  if (mask.defined()) scores = scores.masked_fill(mask.logical_not(), -std::numeric_limits<double>::infinity());
  if (causal) {
    const auto later = at::ones({q.size(-2), k.size(-2)}, q.options().dtype(at::kBool)).triu(1);
    scores = scores.masked_fill(later, -std::numeric_limits<double>::infinity());
  }
  auto weights = at::softmax(scores, -1);
  if (training && dropout_p > 0.0) weights = at::dropout(weights, dropout_p, /*train=*/true);
  return at::matmul(weights, v);
#endif
}

}  // namespace esrun::compat
