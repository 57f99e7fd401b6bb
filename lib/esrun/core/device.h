#pragma once

#include <torch/torch.h>

#include <string>

namespace esrun {

// "auto" -> cuda when available, else cpu; "cpu", "cuda", "cuda:N". `where` names the key.
torch::Device resolve_device(const std::string& spec, const std::string& where);
// The GPU of a process of a multi-process run, by its rank on its machine (processes share GPUs
// round-robin when there are more of them), made the current CUDA device.
torch::Device local_gpu(int local_rank);

// Copies a CPU tensor (random numbers drawn from a CPU generator, a batch built on the CPU) to
// `device` without making the host wait: through pinned memory with a non-blocking copy on CUDA,
// unchanged on the CPU. The CPU generators stay the single source of randomness, so CPU and GPU
// runs draw the same numbers.
torch::Tensor to_device_async(const torch::Tensor& host, const torch::Device& device);

// libtorch intra-op threads; 0 means every core of the machine. Returns the count in use.
int configure_threads(int requested);

}  // namespace esrun
