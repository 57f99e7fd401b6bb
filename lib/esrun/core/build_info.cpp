#include "esrun/core/build_info.h"

#include <ATen/Context.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <spdlog/fmt/fmt.h>
#include <torch/cuda.h>

#include "esrun/core/torch_compat.h"

namespace esrun {
namespace {

// CUDART_VERSION: major * 1000 + minor * 10.
std::string cuda_version_string(long v) { return fmt::format("{}.{}", v / 1000, (v % 1000) / 10); }

// CUDNN_VERSION: major * 10000 + minor * 100 + patch from cuDNN 9, major * 1000 + minor * 100 + patch before.
std::string cudnn_version_string(long v) {
  if (v >= 90000) return fmt::format("{}.{}.{}", v / 10000, (v % 10000) / 100, v % 100);
  return fmt::format("{}.{}.{}", v / 1000, (v % 1000) / 100, v % 100);
}

}  // namespace

BuildInfo build_info() {
  BuildInfo info;
  info.esrun_version = ESRUN_VERSION;
  info.libtorch_version = compat::libtorch_version();
  // A CPU libtorch has only the default hooks, which report no CUDA runtime; a CUDA one registers
  // its own from libtorch_cuda, with or without a GPU on the machine.
  const auto& hooks = at::detail::getCUDAHooks();
  info.cuda = hooks.hasCUDART();
  if (info.cuda) info.cuda_version = cuda_version_string(hooks.versionCUDART());
  if (info.cuda && at::globalContext().hasCuDNN()) info.cudnn_version = cudnn_version_string(hooks.versionCuDNN());
#ifdef ESRUN_WITH_OPENCV
  info.opencv = true;
#endif
  info.cuda_devices = info.cuda ? static_cast<int>(torch::cuda::device_count()) : 0;
  return info;
}

std::string version_text(const BuildInfo& info) {
  std::string cuda = "CUDA not compiled in";
  if (info.cuda) {
    cuda = fmt::format("CUDA {} compiled in ({}), {} CUDA device(s) visible", info.cuda_version,
                       info.cudnn_version.empty() ? "no cuDNN" : "cuDNN " + info.cudnn_version, info.cuda_devices);
  }
  return fmt::format("esrun {}\nlibtorch {}, {}\nOpenCV {}", info.esrun_version, info.libtorch_version, cuda,
                     info.opencv ? "built in" : "not built in (no synthetic_shapes, image_folder)");
}

nlohmann::json to_json(const BuildInfo& info) {
  return {{"esrun_version", info.esrun_version}, {"libtorch_version", info.libtorch_version},
          {"cuda", info.cuda},                   {"cuda_version", info.cuda_version},
          {"cudnn_version", info.cudnn_version}, {"opencv", info.opencv}};
}

}  // namespace esrun
