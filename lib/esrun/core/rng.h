// Random-number streams. Every component draws from its own generator, seeded from the run seed
// and the stream's name, so adding a draw in one component never shifts another's sequence.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace esrun {

// splitmix64(run_seed ^ fnv1a(stream)): well-mixed, stable across platforms and releases.
uint64_t derive_seed(uint64_t run_seed, const std::string& stream);
// splitmix64(seed ^ splitmix64(value)): the seed of item `value` (a step, an image) of a stream.
uint64_t derive_seed(uint64_t seed, uint64_t value);

// A CPU torch generator for the named stream.
at::Generator make_generator(uint64_t run_seed, const std::string& stream);

// A generator's state in a checkpoint archive, under `key`.
void save_generator(torch::serialize::OutputArchive& archive, const std::string& key, const at::Generator& gen);
void load_generator(torch::serialize::InputArchive& archive, const std::string& key, at::Generator& gen);

// Reads `key` into the existing tensor `into` (keeping its device and dtype).
void load_tensor(torch::serialize::InputArchive& archive, const std::string& key, torch::Tensor& into);

// FNV-1a 64-bit hash of a byte string (used for stream names and the config hash).
uint64_t fnv1a64(std::string_view bytes);

}  // namespace esrun
