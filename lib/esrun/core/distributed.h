// Processes of one data-parallel run, on PyTorch's own distributed engine (c10d): where each
// process is (the launch environment torchrun or Slurm sets), the rendezvous through c10d's
// TCPStore, and a Gloo (CPU) or NCCL (CUDA) process group for the collectives.
#pragma once

#include <torch/csrc/distributed/c10d/Store.hpp>
#include <torch/torch.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace esrun {

// This process's place in the run: rank in [0, world_size), its rank on its machine, and the
// rendezvous address. A lone process is rank 0 of 1.
struct LaunchEnvironment {
  int rank = 0, world_size = 1, local_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  std::string source = "single";  // torchrun | slurm | single: which variables said so
  bool distributed() const { return world_size > 1; }
};

using Environment = std::function<std::optional<std::string>(const std::string& name)>;
// The process environment (getenv).
std::optional<std::string> process_environment(const std::string& name);

// torchrun's RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT; else Slurm's SLURM_PROCID,
// SLURM_NTASKS, SLURM_LOCALID and the first host of SLURM_NODELIST (MASTER_ADDR / MASTER_PORT
// override them); else a single process. Inconsistent or malformed values are errors naming the
// variable.
LaunchEnvironment launch_environment(const Environment& environment = process_environment);

// The first host of a Slurm node list: "node[01-04,07],gpu5" -> "node01".
std::string first_host(const std::string& nodelist);

// A connected run: every rank has joined the TCPStore on the master's address and the process
// group is up. Collectives block; a rank that does not answer within `timeout` makes them fail
// with an error naming the rank that stopped answering (each rank beats a heartbeat into the store
// once a second from a thread of its own).
class ProcessGroup {
 public:
  // backend: gloo (CPU tensors) or nccl (CUDA tensors on `device`, the PyTorch flavour only).
  // Rank 0 hosts the store.
  static std::unique_ptr<ProcessGroup> connect(const LaunchEnvironment& launch, const std::string& backend,
                                               std::chrono::milliseconds timeout,
                                               torch::Device device = torch::kCPU);
  ~ProcessGroup();
  // Whether this build's libtorch has NCCL (the PyTorch/CUDA flavour).
  static bool has_nccl();

  int rank() const { return launch_.rank; }
  int world_size() const { return launch_.world_size; }
  const LaunchEnvironment& launch() const { return launch_; }

  // Every rank's `value` under `what` (through the store), in rank order.
  std::vector<std::string> exchange(const std::string& what, const std::string& value);
  // Fails on every rank, naming the ranks that differ from rank 0 and saying `consequence`, unless
  // all ranks hold `value`.
  void require_same(const std::string& what, const std::string& value, const std::string& consequence);

  // The collectives take tensors on any device and return them where they were; the process group
  // works on its own device's copies (CPU for Gloo).
  // The ranks' tensors (same shape on each) concatenated along dim 0, in rank order.
  torch::Tensor all_gather(const torch::Tensor& tensor);
  enum class Reduce { Sum, Max };
  // Reduces each tensor over the ranks in place (one collective per tensor).
  void all_reduce(std::vector<torch::Tensor>& tensors, Reduce op = Reduce::Sum);
  // Rank 0's tensors, in place on every rank.
  void broadcast(std::vector<torch::Tensor>& tensors);
  // Starts summing `tensor` (contiguous, on device()) in place over the ranks, in the background;
  // finish_all_reduces() waits for every one started. Every rank must start the same ones in the
  // same order.
  void start_all_reduce(torch::Tensor tensor);
  void finish_all_reduces();
  torch::Device device() const { return device_; }

  // Leaves the run cleanly: rank 0, which hosts the store, waits until every other rank is done
  // with it. Call it on every rank once the run's last collective is over.
  void finish();

 private:
  ProcessGroup(LaunchEnvironment launch, c10::intrusive_ptr<c10d::Store> store, std::chrono::milliseconds timeout,
               torch::Device device);
  // Runs a collective; a failure becomes an error naming `what` and the ranks that stopped beating.
  void collective(const std::string& what, const std::function<void()>& body);
  // Which ranks' heartbeats stopped, in words (takes a few seconds: it watches them).
  std::string silent_ranks();
  void start_heartbeat();
  void stop_heartbeat();
  struct Backend;
  LaunchEnvironment launch_;
  c10::intrusive_ptr<c10d::Store> store_;
  std::unique_ptr<Backend> backend_;
  std::chrono::milliseconds timeout_;
  torch::Device device_;
  int64_t exchanges_ = 0;  // keys of the store are numbered, so each exchange has its own
  std::vector<std::function<void()>> started_;  // waits for the all-reduces in flight
  std::thread heartbeat_;
  std::mutex heartbeat_mutex_;
  std::condition_variable heartbeat_wake_;
  bool heartbeat_stop_ = false;
};

}  // namespace esrun
