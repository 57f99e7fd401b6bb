#include "esrun/commands/launch.h"

#include <spdlog/spdlog.h>

#include <unistd.h>

#include "esrun/core/device.h"
#include "esrun/core/error.h"
#include "esrun/core/files.h"

namespace esrun {

std::shared_ptr<ProcessGroup> join_ranks(const RunConfig& config, torch::Device& device) {
  const LaunchEnvironment launch = launch_environment();
  if (!launch.distributed()) return nullptr;
  // device: cuda or auto takes the GPU of the local rank; cuda:N is as given (processes may share it).
  if (device.is_cuda() && config.device.rfind("cuda:", 0) != 0) device = local_gpu(launch.local_rank);
  const std::string backend =
      config.distributed.backend != "auto" ? config.distributed.backend : (device.is_cuda() ? "nccl" : "gloo");
  const std::string where = config.resolved.where("distributed.backend");
  ESRUN_CHECK(backend != "nccl" || ProcessGroup::has_nccl(), where, ": nccl is not in this esrun's libtorch (NCCL "
              "comes with the PyTorch/CUDA flavour, scripts/setup.sh with ESRUN_FLAVOUR=pytorch); use gloo or auto");
  ESRUN_CHECK(backend != "nccl" || device.is_cuda(), where, ": nccl needs CUDA tensors, but the run's device is ",
              device.str(), "; use gloo or auto");
  std::shared_ptr<ProcessGroup> group = ProcessGroup::connect(
      launch, backend, std::chrono::milliseconds(static_cast<int64_t>(config.distributed.timeout_s * 1000)), device);
  group->require_same("the resolved config (its hash)", config.resolved.hash(), "every rank must run the same config");
  if (launch.rank != 0) {
    spdlog::set_level(spdlog::level::warn);  // rank 0 reports the run; the others only their trouble
    spdlog::set_pattern(fmt::format("[rank {}] %^%l%$: %v", launch.rank));
  }
  spdlog::info("distributed: {} ranks ({} launch, {}), rank 0 writes the run directory", launch.world_size,
               launch.source, backend);
  return group;
}

std::optional<std::filesystem::path> share_tokenizer(ProcessGroup& group, const std::optional<RunDirectory>& dir) {
  std::string bytes;
  if (dir && std::filesystem::exists(dir->path() / "tokenizer.model")) bytes = read_file(dir->path() / "tokenizer.model");
  const std::string shared = group.exchange("tokenizer", bytes)[0];
  if (group.rank() == 0 || shared.empty()) return std::nullopt;
  const auto file = std::filesystem::temp_directory_path() /
                    fmt::format("esrun-tokenizer-{}-rank{}.model", ::getpid(), group.rank());
  write_file_atomic(file, shared);
  return file;
}

}  // namespace esrun
