#include "esrun/core/distributed.h"

#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <cstdlib>

#include "esrun/core/error.h"

namespace esrun {
namespace {

int integer(const Environment& environment, const std::string& name, const std::string& launcher) {
  const auto text = environment(name);
  ESRUN_CHECK(text.has_value(), name, " is not set, but other variables of ", launcher,
              "'s launch environment are; set all of them (or none, for a single process)");
  try {
    size_t used = 0;
    const int value = std::stoi(*text, &used);
    if (used == text->size()) return value;
  } catch (const std::exception&) {
  }
  ESRUN_FAIL(name, "='", *text, "': expected an integer (", launcher, "'s launch environment)");
}

}  // namespace

std::optional<std::string> process_environment(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  return value ? std::optional<std::string>(value) : std::nullopt;
}

std::string first_host(const std::string& nodelist) {
  // Hosts are comma-separated; a bracket holds ranges of the host's numeric suffix.
  const auto bracket = nodelist.find('['), comma = nodelist.find(',');
  if (bracket == std::string::npos || (comma != std::string::npos && comma < bracket))
    return nodelist.substr(0, comma);
  const auto close = nodelist.find(']', bracket);
  ESRUN_CHECK(close != std::string::npos, "SLURM_NODELIST='", nodelist, "': a '[' without its ']'");
  const std::string ranges = nodelist.substr(bracket + 1, close - bracket - 1);
  const std::string first = ranges.substr(0, ranges.find_first_of(",-"));
  ESRUN_CHECK(!first.empty(), "SLURM_NODELIST='", nodelist, "': an empty range in brackets");
  return nodelist.substr(0, bracket) + first;
}

LaunchEnvironment launch_environment(const Environment& environment) {
  LaunchEnvironment launch;
  if (environment("WORLD_SIZE") || environment("RANK")) {
    launch.source = "torchrun";
    launch.rank = integer(environment, "RANK", "torchrun");
    launch.world_size = integer(environment, "WORLD_SIZE", "torchrun");
    launch.local_rank = environment("LOCAL_RANK") ? integer(environment, "LOCAL_RANK", "torchrun") : launch.rank;
  } else if (environment("SLURM_NTASKS") && environment("SLURM_PROCID")) {
    launch.source = "slurm";
    launch.rank = integer(environment, "SLURM_PROCID", "Slurm");
    launch.world_size = integer(environment, "SLURM_NTASKS", "Slurm");
    launch.local_rank = environment("SLURM_LOCALID") ? integer(environment, "SLURM_LOCALID", "Slurm") : 0;
    if (const auto nodes = environment("SLURM_NODELIST")) launch.master_addr = first_host(*nodes);
  } else {
    return launch;
  }
  if (const auto address = environment("MASTER_ADDR")) launch.master_addr = *address;
  if (environment("MASTER_PORT")) launch.master_port = integer(environment, "MASTER_PORT", launch.source);
  const std::string rank_variable = launch.source == "slurm" ? "SLURM_PROCID" : "RANK";
  ESRUN_CHECK(launch.world_size >= 1, launch.source == "slurm" ? "SLURM_NTASKS" : "WORLD_SIZE", "=",
              launch.world_size, ": expected at least 1 process");
  ESRUN_CHECK(launch.rank >= 0 && launch.rank < launch.world_size, rank_variable, "=", launch.rank,
              ": expected a rank in [0, ", launch.world_size, ")");
  ESRUN_CHECK(launch.local_rank >= 0, "the local rank ", launch.local_rank, " is negative");
  ESRUN_CHECK(launch.master_port > 0 && launch.master_port < 65536, "MASTER_PORT=", launch.master_port,
              ": expected a TCP port in [1, 65535]");
  return launch;
}

struct ProcessGroup::Backend {
  c10::intrusive_ptr<c10d::ProcessGroupGloo> gloo;
};

ProcessGroup::ProcessGroup(LaunchEnvironment launch, c10::intrusive_ptr<c10d::Store> store,
                           std::chrono::milliseconds timeout)
    : launch_(std::move(launch)), store_(std::move(store)), backend_(std::make_unique<Backend>()), timeout_(timeout) {}

ProcessGroup::~ProcessGroup() = default;

std::unique_ptr<ProcessGroup> ProcessGroup::connect(const LaunchEnvironment& launch, const std::string& backend,
                                                   std::chrono::milliseconds timeout) {
  ESRUN_CHECK(backend == "gloo", "distributed.backend: ", backend, " is not built into this esrun yet; use gloo");
  const std::string where = "distributed: rank " + std::to_string(launch.rank) + " of " +
                            std::to_string(launch.world_size) + " (" + launch.source + ", " + launch.master_addr + ":" +
                            std::to_string(launch.master_port) + ")";
  c10::intrusive_ptr<c10d::Store> store;
  try {
    c10d::TCPStoreOptions options;
    options.port = static_cast<std::uint16_t>(launch.master_port);
    options.isServer = launch.rank == 0;
    options.numWorkers = static_cast<std::size_t>(launch.world_size);
    options.waitWorkers = true;
    options.timeout = timeout;
    store = c10::make_intrusive<c10d::TCPStore>(launch.master_addr, options);
  } catch (const std::exception& e) {
    ESRUN_FAIL(where, ": the rendezvous failed (", libtorch_reason(e), "); every rank must reach rank 0 at the "
               "master address within distributed.timeout_s");
  }
  std::unique_ptr<ProcessGroup> group(new ProcessGroup(launch, store, timeout));
  try {
    auto options = c10d::ProcessGroupGloo::Options::create(timeout);
    options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    group->backend_->gloo = c10::make_intrusive<c10d::ProcessGroupGloo>(store, launch.rank, launch.world_size, options);
  } catch (const std::exception& e) {
    ESRUN_FAIL(where, ": the rendezvous failed: the Gloo process group did not come up (", libtorch_reason(e),
               "); every rank must join within distributed.timeout_s");
  }
  return group;
}

std::vector<std::string> ProcessGroup::exchange(const std::string& what, const std::string& value) {
  const std::string prefix = "esrun/" + std::to_string(exchanges_++) + "/";
  store_->set(prefix + std::to_string(rank()), std::vector<uint8_t>(value.begin(), value.end()));
  std::vector<std::string> values;
  for (int r = 0; r < world_size(); ++r) {
    try {
      const auto bytes = store_->get(prefix + std::to_string(r));
      values.emplace_back(bytes.begin(), bytes.end());
    } catch (const std::exception& e) {
      ESRUN_FAIL("distributed: rank ", rank(), " waited for rank ", r, "'s ", what, " in vain (", libtorch_reason(e),
                 "); that rank died, hung or was slower than distributed.timeout_s");
    }
  }
  return values;
}

void ProcessGroup::require_same(const std::string& what, const std::string& value) {
  const auto values = exchange(what, value);
  std::vector<std::string> differing;
  for (int r = 1; r < world_size(); ++r)
    if (values[static_cast<size_t>(r)] != values[0]) differing.push_back(std::to_string(r) + " (" + values[static_cast<size_t>(r)] + ")");
  ESRUN_CHECK(differing.empty(), "distributed: the ranks disagree on ", what, ": rank 0 has ", values[0], ", rank",
              differing.size() > 1 ? "s " : " ", join(differing), "; every rank must run the same config");
}

torch::Tensor ProcessGroup::all_gather(const torch::Tensor& tensor) {
  std::vector<at::Tensor> input{tensor.contiguous()};
  std::vector<std::vector<at::Tensor>> output(1);
  for (int r = 0; r < world_size(); ++r) output[0].push_back(torch::empty_like(input[0]));
  try {
    backend_->gloo->allgather(output, input)->wait(timeout_);
  } catch (const std::exception& e) {
    ESRUN_FAIL("distributed: rank ", rank(), ": an all-gather failed (", libtorch_reason(e),
               "); another rank died, hung or was slower than distributed.timeout_s");
  }
  return torch::cat(output[0]);
}

void ProcessGroup::all_reduce_sum(std::vector<torch::Tensor>& tensors) {
  try {
    for (auto& tensor : tensors) {
      std::vector<at::Tensor> one{tensor};
      backend_->gloo->allreduce(one)->wait(timeout_);
    }
  } catch (const std::exception& e) {
    ESRUN_FAIL("distributed: rank ", rank(), ": an all-reduce failed (", libtorch_reason(e),
               "); another rank died, hung or was slower than distributed.timeout_s");
  }
}

}  // namespace esrun
