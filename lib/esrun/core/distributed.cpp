#include "esrun/core/distributed.h"

#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef ESRUN_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

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

// The c10d backend: Gloo always; NCCL where libtorch has it (a CUDA build of PyTorch 2.x).
struct ProcessGroup::Backend {
  c10::intrusive_ptr<c10d::ProcessGroupGloo> gloo;
#ifdef ESRUN_WITH_NCCL
  c10::intrusive_ptr<c10d::ProcessGroupNCCL> nccl;
#endif
  // Calls `body` with whichever process group this run has.
  template <typename Body>
  void run(Body&& body) {
#ifdef ESRUN_WITH_NCCL
    if (nccl) return body(*nccl);
#endif
    body(*gloo);
  }
};

ProcessGroup::ProcessGroup(LaunchEnvironment launch, c10::intrusive_ptr<c10d::Store> store,
                           std::chrono::milliseconds timeout, torch::Device device)
    : launch_(std::move(launch)),
      store_(std::move(store)),
      backend_(std::make_unique<Backend>()),
      timeout_(timeout),
      device_(device) {}

ProcessGroup::~ProcessGroup() { stop_heartbeat(); }

bool ProcessGroup::has_nccl() {
#ifdef ESRUN_WITH_NCCL
  return true;
#else
  return false;
#endif
}

std::unique_ptr<ProcessGroup> ProcessGroup::connect(const LaunchEnvironment& launch, const std::string& backend,
                                                   std::chrono::milliseconds timeout, torch::Device device) {
  ESRUN_INTERNAL_CHECK(backend == "gloo" || (backend == "nccl" && has_nccl() && device.is_cuda()),
              "the c10d backend ", backend, " on ", device.str(), " was not checked against this build");
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
  const torch::Device on = backend == "nccl" ? device : torch::Device(torch::kCPU);
  std::unique_ptr<ProcessGroup> group(new ProcessGroup(launch, store, timeout, on));
  try {
#ifdef ESRUN_WITH_NCCL
    if (backend == "nccl") {
      auto options = c10d::ProcessGroupNCCL::Options::create();
      options->timeout = timeout;
      group->backend_->nccl = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, launch.rank, launch.world_size, options);
    }
#endif
    // GLOO_SOCKET_IFNAME (comma-separated interfaces), as PyTorch's Python front end reads it:
    // needed where the host name resolves to a loopback address on a multi-node run.
    auto options = c10d::ProcessGroupGloo::Options::create(timeout);
    if (const auto interfaces = process_environment("GLOO_SOCKET_IFNAME")) {
      std::stringstream names(*interfaces);
      for (std::string name; std::getline(names, name, ',');)
        if (!name.empty()) options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(name));
    }
    if (options->devices.empty()) options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    if (backend == "gloo")
      group->backend_->gloo = c10::make_intrusive<c10d::ProcessGroupGloo>(store, launch.rank, launch.world_size, options);
  } catch (const std::exception& e) {
    ESRUN_FAIL(where, ": the rendezvous failed: the ", backend, " process group did not come up (", libtorch_reason(e),
               "); every rank must join within distributed.timeout_s");
  }
  group->start_heartbeat();
  return group;
}

namespace {
std::string heartbeat_key(int rank) { return "esrun/heartbeat/" + std::to_string(rank); }
constexpr auto kHeartbeat = std::chrono::seconds(1);
}  // namespace

// The heartbeat has a store connection of its own: c10d's store clients are not shared across
// threads. A rank whose store went away (rank 0 died) stops beating; its collectives report it.
void ProcessGroup::start_heartbeat() {
  c10d::TCPStoreOptions options;
  options.port = static_cast<std::uint16_t>(launch_.master_port);
  options.waitWorkers = false;
  options.timeout = timeout_;
  auto beat = c10::make_intrusive<c10d::TCPStore>(launch_.master_addr, options);
  beat->set(heartbeat_key(rank()), std::vector<uint8_t>{'0'});
  heartbeat_ = std::thread([this, beat] {
    std::unique_lock<std::mutex> lock(heartbeat_mutex_);
    for (int64_t beats = 1; !heartbeat_wake_.wait_for(lock, kHeartbeat, [this] { return heartbeat_stop_; }); ++beats) {
      const std::string count = std::to_string(beats);
      try {
        beat->set(heartbeat_key(rank()), std::vector<uint8_t>(count.begin(), count.end()));
      } catch (const std::exception&) {
        return;
      }
    }
  });
}

void ProcessGroup::stop_heartbeat() {
  {
    std::lock_guard<std::mutex> lock(heartbeat_mutex_);
    heartbeat_stop_ = true;
  }
  heartbeat_wake_.notify_all();
  if (heartbeat_.joinable()) heartbeat_.join();
}

std::string ProcessGroup::silent_ranks() {
  const auto read = [&] {
    std::vector<std::string> beats;
    for (int r = 0; r < world_size(); ++r) {
      const auto bytes = store_->get(heartbeat_key(r));
      beats.emplace_back(bytes.begin(), bytes.end());
    }
    return beats;
  };
  try {
    store_->setTimeout(std::chrono::seconds(5));
    const auto before = read();
    std::this_thread::sleep_for(3 * kHeartbeat);
    const auto after = read();
    std::vector<std::string> silent;
    for (int r = 0; r < world_size(); ++r)
      if (r != rank() && before[static_cast<size_t>(r)] == after[static_cast<size_t>(r)]) silent.push_back(std::to_string(r));
    if (silent.empty()) return "every other rank still beats its heartbeat: one is stuck, or slower than distributed.timeout_s";
    return std::string(silent.size() > 1 ? "ranks " : "rank ") + join(silent) + " stopped answering (died or hung)";
  } catch (const std::exception&) {
    return "rank 0, which hosts the rendezvous store, stopped answering (died or hung)";
  }
}

void ProcessGroup::collective(const std::string& what, const std::function<void()>& body) {
  try {
    body();
  } catch (const std::exception& e) {
    const std::string reason = libtorch_reason(e);
    ESRUN_FAIL("distributed: rank ", rank(), ": ", what, " failed (", reason, "): ", silent_ranks());
  }
}

std::vector<std::string> ProcessGroup::exchange(const std::string& what, const std::string& value) {
  const std::string prefix = "esrun/" + std::to_string(exchanges_++) + "/";
  store_->set(prefix + std::to_string(rank()), std::vector<uint8_t>(value.begin(), value.end()));
  std::vector<std::string> values;
  for (int r = 0; r < world_size(); ++r)
    collective("waiting for rank " + std::to_string(r) + "'s " + what, [&] {
      const auto bytes = store_->get(prefix + std::to_string(r));
      values.emplace_back(bytes.begin(), bytes.end());
    });
  return values;
}

void ProcessGroup::require_same(const std::string& what, const std::string& value, const std::string& consequence) {
  const auto values = exchange(what, value);
  std::vector<std::string> differing;
  for (int r = 1; r < world_size(); ++r)
    if (values[static_cast<size_t>(r)] != values[0]) differing.push_back(std::to_string(r) + " (" + values[static_cast<size_t>(r)] + ")");
  ESRUN_CHECK(differing.empty(), "distributed: the ranks disagree on ", what, ": rank 0 has ", values[0], ", rank",
              differing.size() > 1 ? "s " : " ", join(differing), ": ", consequence);
}

torch::Tensor ProcessGroup::all_gather(const torch::Tensor& tensor) {
  // Every rank's tensor has the same shape, so empty ones need no exchange (Gloo cannot send them).
  if (tensor.numel() == 0) {
    auto shape = tensor.sizes().vec();
    if (!shape.empty()) shape[0] *= world_size();
    return torch::empty(shape, tensor.options());
  }
  std::vector<at::Tensor> input{tensor.to(device_).contiguous()};
  std::vector<std::vector<at::Tensor>> output(1);
  for (int r = 0; r < world_size(); ++r) output[0].push_back(torch::empty_like(input[0]));
  collective("an all-gather", [&] { backend_->run([&](auto& group) { group.allgather(output, input)->wait(timeout_); }); });
  return torch::cat(output[0]).to(tensor.device());
}

void ProcessGroup::all_reduce(std::vector<torch::Tensor>& tensors, Reduce op) {
  c10d::AllreduceOptions options;
  options.reduceOp = op == Reduce::Max ? c10d::ReduceOp::MAX : c10d::ReduceOp::SUM;
  for (auto& tensor : tensors) {
    if (tensor.numel() == 0) continue;
    std::vector<at::Tensor> one{tensor.device() == device_ && tensor.is_contiguous() ? tensor : tensor.to(device_).contiguous()};
    collective("an all-reduce", [&] { backend_->run([&](auto& group) { group.allreduce(one, options)->wait(timeout_); }); });
    if (!one[0].is_same(tensor)) tensor.copy_(one[0]);
  }
}

void ProcessGroup::start_all_reduce(torch::Tensor tensor) {
  if (tensor.numel() == 0) return;
  collective("starting an all-reduce", [&] {
    backend_->run([&](auto& group) {
      std::vector<at::Tensor> one{tensor};
      auto work = group.allreduce(one);
      started_.push_back([work, one, this] { work->wait(timeout_); });
    });
  });
}

void ProcessGroup::finish_all_reduces() {
  auto started = std::move(started_);
  started_.clear();
  collective("an all-reduce", [&] {
    for (const auto& wait : started) wait();
  });
}

void ProcessGroup::broadcast(std::vector<torch::Tensor>& tensors) {
  for (auto& tensor : tensors) {
    if (tensor.numel() == 0) continue;
    std::vector<at::Tensor> one{tensor.device() == device_ && tensor.is_contiguous() ? tensor : tensor.to(device_).contiguous()};
    collective("a broadcast from rank 0", [&] { backend_->run([&](auto& group) { group.broadcast(one)->wait(timeout_); }); });
    if (!one[0].is_same(tensor)) tensor.copy_(one[0]);
  }
}

void ProcessGroup::finish() {
  stop_heartbeat();
  collective("leaving the run", [&] {
    store_->add("esrun/finished", 1);
    if (rank() != 0) return;
    const auto deadline = std::chrono::steady_clock::now() + timeout_;
    while (store_->add("esrun/finished", 0) < world_size()) {
      ESRUN_CHECK(std::chrono::steady_clock::now() < deadline, "not every rank finished within distributed.timeout_s");
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
}

}  // namespace esrun
