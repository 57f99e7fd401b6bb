#include "esrun/core/device.h"

#include <thread>

#include "esrun/core/error.h"
#include "esrun/core/torch_compat.h"

#ifdef ESRUN_WITH_CUDA
#include <c10/cuda/CUDAFunctions.h>
#endif

namespace esrun {

torch::Device resolve_device(const std::string& spec, const std::string& where) {
  if (spec == "auto") return torch::cuda::is_available() ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
  if (spec == "cpu") return torch::Device(torch::kCPU);
  if (spec == "cuda" || spec.rfind("cuda:", 0) == 0) {
    ESRUN_CHECK(torch::cuda::is_available(), "device '", spec, "' at ", where,
                " but this build of libtorch (", compat::libtorch_version(), ") sees no CUDA device; use cpu or auto");
    const bool numbered = spec.size() > 5 && spec.find_first_not_of("0123456789", 5) == std::string::npos;
    ESRUN_CHECK(spec == "cuda" || numbered, "device '", spec, "' at ", where, ": expected cuda:N with N an integer");
    const int index = numbered ? std::stoi(spec.substr(5)) : 0;
    const int count = static_cast<int>(torch::cuda::device_count());
    ESRUN_CHECK(index >= 0 && index < count, "device '", spec, "' at ", where, ": only ", count,
                " CUDA device(s) visible");
    return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
  }
  ESRUN_FAIL("device '", spec, "' at ", where, ": expected auto, cpu, cuda or cuda:N");
}

torch::Device local_gpu(int local_rank) {
  const auto count = static_cast<int>(torch::cuda::device_count());
  ESRUN_CHECK(count > 0, "a multi-process CUDA run sees no CUDA device");
  const auto index = static_cast<c10::DeviceIndex>(local_rank % count);
#ifdef ESRUN_WITH_CUDA
  c10::cuda::set_device(index);
#endif
  return torch::Device(torch::kCUDA, index);
}

torch::Tensor to_device_async(const torch::Tensor& host, const torch::Device& device) {
  if (host.device() == device) return host;
  if (!device.is_cuda() || !host.device().is_cpu()) return host.to(device);
  return host.pin_memory().to(device, /*non_blocking=*/true);
}

int configure_threads(int requested) {
  const int threads = requested > 0 ? requested : std::max(1u, std::thread::hardware_concurrency());
  torch::set_num_threads(threads);
  return threads;
}

}  // namespace esrun
