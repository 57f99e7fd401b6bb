// The replicas of a data-parallel run, as the trainer sees them (docs/distributed.md).
//
// Every rank holds the whole meta-batch: the epoch plan, the shuffle and the augmentation are
// drawn from the same seeded streams on every rank. Each rank runs the forward (and backward)
// passes of its contiguous share of the rows; the per-sample values are all-gathered, so every
// rank's policy observes the same values and makes the same selection, and the gradients are
// summed over the ranks, so every rank takes the same optimizer step. A single process (no group)
// is the identity: its share is every row and nothing is exchanged.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "esrun/core/distributed.h"

namespace esrun {

class DataParallel {
 public:
  explicit DataParallel(std::shared_ptr<ProcessGroup> group = nullptr);
  // The parameters' hooks hold this object's address.
  DataParallel(const DataParallel&) = delete;
  DataParallel& operator=(const DataParallel&) = delete;

  int rank() const { return group_ ? group_->rank() : 0; }
  int world_size() const { return group_ ? group_->world_size() : 1; }
  bool distributed() const { return world_size() > 1; }

  // This rank's rows of `rows`: contiguous, ranks in order, the first rows % world_size ranks one more.
  struct Share {
    int64_t begin = 0, size = 0;
  };
  Share share(int64_t rows) const;

  // Every rank's share of `rows` rows, in order, from each rank's `local` rows (first dimension
  // this rank's share().size; the others alike on every rank).
  torch::Tensor gather(const torch::Tensor& local, int64_t rows);

  // The gradients of `parameters` (the trainable ones) are summed over the ranks in flat buckets
  // of at most 25 MiB, last parameters first (the backward pass computes them first). Hooks on the
  // parameters start a bucket's all-reduce as soon as its gradients are complete during an arm()ed
  // backward pass, so communication overlaps the rest of the backward pass. Call once.
  void attach(const std::vector<torch::Tensor>& parameters);
  // The next backward pass is this rank's last of the step (with train.accumulate the earlier ones
  // only accumulate).
  void arm() { armed_ = distributed(); }
  // After the step's passes (none, on a rank without rows): starts the buckets the backward pass
  // did not, waits for all, writes the sums into the gradients and returns the summed `loss`. A
  // parameter without a gradient on any rank keeps none (the optimizer skips it, as in a single
  // process). Every rank calls it once per step.
  torch::Tensor reduce_gradients(const torch::Tensor& loss);
  // Averages the BatchNorm running statistics (buffers named running_mean / running_var) over the
  // ranks, whose batches differ.
  void average_batchnorm(torch::nn::Module& model);
  // The sum of `tensor` over the ranks, differentiable: its gradient is the sum of the ranks'
  // gradients (synchronised BatchNorm's statistics).
  torch::Tensor sum_over_ranks(const torch::Tensor& tensor);
  // Rank 0's values of the tensors, on every rank.
  void broadcast(std::vector<torch::Tensor> tensors);
  // The largest of the ranks' values, element by element.
  std::vector<int64_t> max(const std::vector<int64_t>& values);
  // Fails on every rank, naming the ranks that differ from rank 0 and saying `consequence`, unless
  // all hold `value`.
  void require_same(const std::string& what, const std::string& value, const std::string& consequence);

  // Host seconds spent in the all-gathers and in the gradient all-reduces so far.
  double gather_seconds() const { return gather_seconds_; }
  double reduce_seconds() const { return reduce_seconds_; }

 private:
  struct Slot {  // one parameter's place in a bucket
    torch::Tensor parameter;
    size_t bucket = 0;
    int64_t offset = 0;
    bool filled = false, has_gradient = false;
  };
  struct Bucket {
    torch::Tensor flat;  // float, on the process group's device
    int64_t waiting = 0;  // slots not yet filled this step
  };
  void on_gradient(size_t slot, const torch::Tensor& gradient);  // the backward pass's hook
  void fill(size_t slot, const torch::Tensor& gradient);          // undefined: zeros
  void start_ready_buckets();                                      // in bucket order, as every rank

  std::shared_ptr<ProcessGroup> group_;
  double gather_seconds_ = 0, reduce_seconds_ = 0;
  std::vector<Slot> slots_;
  std::vector<Bucket> buckets_;
  size_t next_bucket_ = 0;
  bool armed_ = false;
};

}  // namespace esrun
