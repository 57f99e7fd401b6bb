#include "esrun/sampling/batch_queue.h"

namespace esrun {

void BatchQueue::append(const Batch& batch, const torch::Tensor& rows) {
  if (rows.size(0) == 0) return;
  const Batch chosen{batch.indices.index_select(0, rows), batch.inputs.index_select(0, rows),
                     batch.targets.index_select(0, rows)};
  if (size() == 0) {
    queue_ = chosen;
    return;
  }
  queue_ = Batch{torch::cat({queue_.indices, chosen.indices}), torch::cat({queue_.inputs, chosen.inputs}),
                 torch::cat({queue_.targets, chosen.targets})};
}

std::vector<Batch> BatchQueue::take_full(int64_t batch_size) {
  std::vector<Batch> ready;
  while (size() >= batch_size) ready.push_back(take(batch_size));
  return ready;
}

std::vector<Batch> BatchQueue::take_rest() {
  if (size() == 0) return {};
  return {take(size())};
}

Batch BatchQueue::take(int64_t count) {
  const int64_t rest = size() - count;
  Batch out{queue_.indices.narrow(0, 0, count), queue_.inputs.narrow(0, 0, count), queue_.targets.narrow(0, 0, count)};
  queue_ = rest == 0 ? Batch{}
                     : Batch{queue_.indices.narrow(0, count, rest), queue_.inputs.narrow(0, count, rest),
                             queue_.targets.narrow(0, count, rest)};
  return out;
}

void BatchQueue::save(torch::serialize::OutputArchive& archive) const {
  const bool any = size() > 0;
  archive.write("queue_indices", any ? queue_.indices : torch::empty({0}, torch::kLong));
  archive.write("queue_inputs", any ? queue_.inputs : torch::empty({0}));
  archive.write("queue_targets", any ? queue_.targets : torch::empty({0}, torch::kLong));
}

void BatchQueue::load(torch::serialize::InputArchive& archive, torch::Device device) {
  Batch saved;
  // A checkpoint from before AdaSelection queued (an esrun before AdaSelection's queue) has no queue: start empty.
  if (!archive.try_read("queue_indices", saved.indices)) {
    queue_ = Batch{};
    return;
  }
  archive.read("queue_inputs", saved.inputs);
  archive.read("queue_targets", saved.targets);
  queue_ = saved.indices.numel() == 0
               ? Batch{}
               : Batch{saved.indices.to(device), saved.inputs.to(device), saved.targets.to(device)};
}

}  // namespace esrun
