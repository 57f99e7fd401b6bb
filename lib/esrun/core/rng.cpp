#include "esrun/core/rng.h"

#include "esrun/core/torch_compat.h"

#include <mutex>

namespace esrun {

uint64_t fnv1a64(std::string_view bytes) {
  uint64_t hash = 14695981039346656037ULL;
  for (unsigned char c : bytes) {
    hash ^= c;
    hash *= 1099511628211ULL;
  }
  return hash;
}

namespace {
// splitmix64's finaliser (Steele, Lea & Flood 2014).
uint64_t splitmix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
}  // namespace

uint64_t derive_seed(uint64_t run_seed, const std::string& stream) { return splitmix64(run_seed ^ fnv1a64(stream)); }

uint64_t derive_seed(uint64_t seed, uint64_t value) { return splitmix64(seed ^ splitmix64(value)); }

at::Generator make_generator(uint64_t run_seed, const std::string& stream) {
  return compat::make_cpu_generator(derive_seed(run_seed, stream));
}

void save_generator(torch::serialize::OutputArchive& archive, const std::string& key, const at::Generator& gen) {
  auto copy = gen;
  std::lock_guard<std::mutex> lock(copy.mutex());
  archive.write(key, copy.get_state());
}

void load_generator(torch::serialize::InputArchive& archive, const std::string& key, at::Generator& gen) {
  torch::Tensor state;
  archive.read(key, state);
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(state);
}

void load_tensor(torch::serialize::InputArchive& archive, const std::string& key, torch::Tensor& into) {
  torch::Tensor value;
  archive.read(key, value);
  into.copy_(value);
}

}  // namespace esrun
