#include "esrun/data/file_loader.h"

#include <algorithm>
#include <optional>

#include "esrun/core/error.h"
#include "esrun/core/rng.h"

namespace esrun {

struct ImageFileLoader::Batch {
  BatchRequest request;
  const int64_t* rows = nullptr;  // request.indices' data
  int64_t size = 0, claimed = 0, done = 0;
  torch::Tensor out;
  std::optional<std::string> error;  // the first failure, rethrown by load()
};

ImageFileLoader::ImageFileLoader(std::shared_ptr<const ImageFiles> files, int workers, int64_t prefetch, bool pinned)
    : files_(std::move(files)), prefetch_(prefetch), pinned_(pinned) {
  ESRUN_CHECK(workers >= 1 && prefetch >= 1, "image loader: expected at least one worker and a prefetch of at least one "
              "batch, got ", workers, " and ", prefetch);
  threads_.reserve(static_cast<size_t>(workers));
  try {
    for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { work(); });
  } catch (...) {
    stop();
    throw;
  }
}

void ImageFileLoader::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  work_ready_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

ImageFileLoader::~ImageFileLoader() { stop(); }

std::shared_ptr<ImageFileLoader::Batch> ImageFileLoader::allocate(const BatchRequest& request) const {
  auto batch = std::make_shared<Batch>();
  batch->request = {request.indices.to(torch::kCPU, torch::kLong).contiguous(), request.seed};
  batch->rows = batch->request.indices.data_ptr<int64_t>();
  batch->size = batch->request.indices.numel();
  batch->out = torch::empty({batch->size, files_->channels, files_->height, files_->width},
                            torch::TensorOptions().dtype(torch::kUInt8).pinned_memory(pinned_));
  return batch;
}

void ImageFileLoader::check_rows(const torch::Tensor& indices) const {
  const auto rows = indices.to(torch::kCPU, torch::kLong);
  const int64_t files = static_cast<int64_t>(files_->paths.size());
  ESRUN_CHECK(rows.numel() == 0 || (rows.min().item<int64_t>() >= 0 && rows.max().item<int64_t>() < files),
              "image loader: an index is out of range for ", files, " files");
}

void ImageFileLoader::announce(std::vector<BatchRequest> batches) {
  for (const auto& b : batches) check_rows(b.indices);  // before anything changes
  std::lock_guard<std::mutex> lock(mutex_);
  window_.clear();  // workers still decoding into a dropped batch hold their own reference
  planned_.assign(std::make_move_iterator(batches.begin()), std::make_move_iterator(batches.end()));
  fill_window();
}

void ImageFileLoader::fill_window() {
  bool added = false;
  while (static_cast<int64_t>(window_.size()) < prefetch_ && !planned_.empty()) {
    window_.push_back(allocate(planned_.front()));
    planned_.pop_front();
    added = true;
  }
  if (added) work_ready_.notify_all();
}

int64_t ImageFileLoader::batches_ahead() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return static_cast<int64_t>(window_.size());
}

void ImageFileLoader::work() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    std::shared_ptr<Batch> batch;
    const auto unclaimed = [&] {
      for (auto* queue : {&urgent_, &window_})
        for (const auto& b : *queue)
          if (b->claimed < b->size) return b;
      return std::shared_ptr<Batch>();
    };
    work_ready_.wait(lock, [&] { return stopping_ || (batch = unclaimed()) != nullptr; });
    if (stopping_) return;
    const int64_t row = batch->claimed++;
    lock.unlock();
    const std::string& path = files_->paths[static_cast<size_t>(batch->rows[row])];
    std::optional<std::string> error;
    try {
      const int64_t image_bytes = files_->channels * files_->height * files_->width;
      files_->decode(path, derive_seed(batch->request.seed, row), batch->out.data_ptr<uint8_t>() + row * image_bytes);
    } catch (const std::exception& e) {
      error = "image loader, file '" + path + "': " + e.what();
    } catch (...) {
      error = "image loader, file '" + path + "': unknown error";
    }
    lock.lock();
    if (error && !batch->error) batch->error = std::move(error);
    if (++batch->done == batch->size) row_done_.notify_all();
  }
}

void ImageFileLoader::wait_for(const Batch& batch, std::unique_lock<std::mutex>& lock) {
  row_done_.wait(lock, [&] { return batch.done == batch.size; });
}

torch::Tensor ImageFileLoader::load(const torch::Tensor& indices, uint64_t seed) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (!window_.empty() && window_.front()->request.seed == seed &&
      window_.front()->request.indices.numel() == indices.numel() &&
      torch::equal(window_.front()->request.indices, indices.to(torch::kCPU, torch::kLong))) {
    // It stays in the window, where the workers find its rows, until it is complete.
    const auto batch = window_.front();
    wait_for(*batch, lock);
    window_.pop_front();
    fill_window();
    ESRUN_CHECK(!batch->error, *batch->error);
    return batch->out;
  }
  check_rows(indices);
  const auto batch = allocate(BatchRequest{indices, seed});
  if (batch->size == 0) return batch->out;
  urgent_.push_back(batch);
  work_ready_.notify_all();
  wait_for(*batch, lock);
  urgent_.erase(std::find(urgent_.begin(), urgent_.end(), batch));
  ESRUN_CHECK(!batch->error, *batch->error);
  return batch->out;
}

}  // namespace esrun
