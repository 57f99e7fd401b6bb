// Rows of meta-batches (with their augmented inputs) kept across steps until a full batch is
// ready: the "biggest losers" pattern of Selective Backprop and AdaSelection's Algorithm 2.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "esrun/sampling/policy.h"

namespace esrun {

class BatchQueue {
 public:
  int64_t size() const { return queue_.indices.defined() ? queue_.indices.size(0) : 0; }
  // Appends `rows` of `batch` (int64 positions).
  void append(const Batch& batch, const torch::Tensor& rows);
  // Every full batch of `batch_size` rows queued so far, oldest first.
  std::vector<Batch> take_full(int64_t batch_size);
  // What is left (none or one partial batch), emptying the queue.
  std::vector<Batch> take_rest();
  // In a policy's checkpoint; a resumed queue moves to `device`.
  void save(torch::serialize::OutputArchive& archive) const;
  void load(torch::serialize::InputArchive& archive, torch::Device device);

 private:
  Batch take(int64_t count);
  Batch queue_;
};

}  // namespace esrun
