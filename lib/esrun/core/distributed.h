// Processes of one data-parallel run, on PyTorch's own distributed engine (c10d): where each
// process is (the launch environment torchrun or Slurm sets), the rendezvous through c10d's
// TCPStore, and a Gloo (CPU) or NCCL (CUDA) process group for the collectives.
#pragma once

#include <torch/csrc/distributed/c10d/Store.hpp>
#include <torch/torch.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
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
// with an error naming what was awaited.
class ProcessGroup {
 public:
  // backend: gloo or nccl. Rank 0 hosts the store.
  static std::unique_ptr<ProcessGroup> connect(const LaunchEnvironment& launch, const std::string& backend,
                                               std::chrono::milliseconds timeout);
  ~ProcessGroup();

  int rank() const { return launch_.rank; }
  int world_size() const { return launch_.world_size; }

  // Every rank's `value` under `what` (through the store), in rank order.
  std::vector<std::string> exchange(const std::string& what, const std::string& value);
  // Fails on every rank, naming the ranks that differ from rank 0, unless all ranks hold `value`.
  void require_same(const std::string& what, const std::string& value);

  // The ranks' tensors (same shape on each) concatenated along dim 0, in rank order.
  torch::Tensor all_gather(const torch::Tensor& tensor);
  // Sums the tensors over the ranks in place.
  void all_reduce_sum(std::vector<torch::Tensor>& tensors);

 private:
  ProcessGroup(LaunchEnvironment launch, c10::intrusive_ptr<c10d::Store> store, std::chrono::milliseconds timeout);
  struct Backend;
  LaunchEnvironment launch_;
  c10::intrusive_ptr<c10d::Store> store_;
  std::unique_ptr<Backend> backend_;
  std::chrono::milliseconds timeout_;
  int64_t exchanges_ = 0;  // keys of the store are numbered, so each exchange has its own
};

}  // namespace esrun
