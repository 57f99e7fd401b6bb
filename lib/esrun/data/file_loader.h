// Batches of image files decoded by a pool of worker threads, for datasets too large to hold in
// memory (image_folder). The consumer announces the batches it will ask for, in order (an epoch's
// plan); the workers decode them ahead, at most `prefetch` batches in advance, each image straight
// into its row of the batch tensor (pinned when the batch goes to a GPU). A batch that was not
// announced is decoded on request by all workers at once. Every image is decoded from its file
// and a seed alone, so batches do not depend on the number of workers or on the timing.
// One thread consumes (announce and load); the workers are the loader's own.
#pragma once

#include <torch/torch.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace esrun {

// A file-backed split: the files, the size of a decoded image, and how to decode one.
struct ImageFiles {
  std::vector<std::string> paths;
  int64_t channels = 3, height = 0, width = 0;
  // Writes the decoded image [channels, height, width] (uint8, contiguous) of `path` to `out`,
  // drawing any augmentation from `seed`; throws esrun::Error naming the file when it cannot.
  std::function<void(const std::string& path, uint64_t seed, uint8_t* out)> decode;
};

// An announced batch: its rows (int64 indices into the files, on the CPU) and its seed.
struct BatchRequest {
  torch::Tensor indices;
  uint64_t seed = 0;
};

class ImageFileLoader {
 public:
  ImageFileLoader(std::shared_ptr<const ImageFiles> files, int workers, int64_t prefetch, bool pinned);
  ~ImageFileLoader();
  ImageFileLoader(const ImageFileLoader&) = delete;
  ImageFileLoader& operator=(const ImageFileLoader&) = delete;

  // The batches that will be asked for next, in order. Replaces any earlier announcement.
  void announce(std::vector<BatchRequest> batches);
  // uint8 [N, C, H, W] on the CPU: the next announced batch when `indices` and `seed` match it,
  // otherwise decoded now (the announced batches stay queued behind it). Image i of the batch uses
  // the seed derive_seed(seed, i).
  torch::Tensor load(const torch::Tensor& indices, uint64_t seed);

  // Announced batches decoded or being decoded, never more than `prefetch` (for tests).
  int64_t batches_ahead() const;
  int workers() const { return static_cast<int>(threads_.size()); }

 private:
  struct Batch;
  std::shared_ptr<Batch> allocate(const BatchRequest& request) const;  // its output tensor, nothing decoded
  void check_rows(const torch::Tensor& indices) const;  // every index names a file
  void fill_window();            // with the lock held
  void stop();                   // joins the workers
  void work();                   // a worker thread's loop
  void wait_for(const Batch& batch, std::unique_lock<std::mutex>& lock);  // until every row is decoded

  std::shared_ptr<const ImageFiles> files_;
  int64_t prefetch_;
  bool pinned_;
  mutable std::mutex mutex_;
  std::condition_variable work_ready_, row_done_;
  std::deque<std::shared_ptr<Batch>> urgent_, window_;  // unannounced requests first, then the plan
  std::deque<BatchRequest> planned_;                   // announced, not yet in the window
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace esrun
