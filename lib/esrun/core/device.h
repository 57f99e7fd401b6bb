#pragma once

#include <torch/torch.h>

#include <string>

namespace esrun {

// "auto" -> cuda when available, else cpu; "cpu", "cuda", "cuda:N". `where` names the key.
torch::Device resolve_device(const std::string& spec, const std::string& where);

// libtorch intra-op threads; 0 means every core of the machine. Returns the count in use.
int configure_threads(int requested);

}  // namespace esrun
