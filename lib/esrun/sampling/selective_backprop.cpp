// selective_backprop: Selective Backprop (Jiang et al. 2019, docs/methods.md). Every meta-batch is
// scored; the losses join a history of the last 1024 (sampler.history); each sample is kept with
// probability max(p_min, CDF(l_i)^beta), CDF its percentile in that history (beta = 3, p_min = 0);
// the batch's own losses join the history before the percentiles are taken, as the authors' code
// appends each loss before ranking it.
// Kept samples queue, with their augmented inputs, across meta-batches; whenever b are queued the
// trainer takes a step on them (plain mean). The first epoch keeps everything (priming); the last,
// partial queue of an epoch is trained on at the epoch's end.
#include "esrun/core/device.h"
#include "esrun/sampling/batch_queue.h"
#include "esrun/sampling/policy.h"
#include "esrun/sampling/weighted.h"

namespace esrun {
namespace {

class SelectiveBackprop final : public SelectionPolicy {
 public:
  SelectiveBackprop(const SamplerOptions& options, const PolicyContext& context)
      : SelectionPolicy(context),
        options_(options),
        history_(torch::zeros({options.history}, torch::TensorOptions(torch::kDouble).device(context.device))) {}

  EpochPlan plan_epoch(int64_t epoch) override {
    epoch_ = epoch;
    return SelectionPolicy::plan_epoch(epoch);
  }

  bool needs_scores(int64_t /*epoch*/) const override { return true; }

  Selection select(const Batch& batch, const Scores& scores) override {
    const auto losses = scores.losses.to(torch::kDouble);
    remember(losses);
    torch::Tensor keep;
    if (epoch_ == 0) {
      keep = torch::ones({losses.size(0)}, torch::TensorOptions(torch::kBool).device(losses.device()));
    } else {
      const auto past = std::get<0>(history_.narrow(0, 0, filled_).sort());
      const auto cdf = torch::searchsorted(past, losses, /*out_int32=*/false, /*right=*/true).to(torch::kDouble) /
                       static_cast<double>(filled_);
      const auto probability = torch::clamp_min(cdf.pow(options_.sb_beta), options_.p_min);
      keep = to_device_async(torch::rand({losses.size(0)}, generator(), torch::kDouble), losses.device()).lt(probability);
    }
    queue_.append(batch, keep.nonzero().flatten());
    return Selection{{}, {}, queue_.take_full(options_.resolved_mini_batch)};
  }

  std::vector<Batch> flush(int64_t /*epoch*/) override { return queue_.take_rest(); }

  void save_state(torch::serialize::OutputArchive& archive) const override {
    archive.write("history", history_);
    archive.write("cursor", torch::tensor({filled_, write_, epoch_}, torch::kLong));
    queue_.save(archive);
  }
  void load_state(torch::serialize::InputArchive& archive) override {
    load_tensor(archive, "history", history_);
    torch::Tensor cursor;
    archive.read("cursor", cursor);
    filled_ = cursor[0].item<int64_t>();
    write_ = cursor[1].item<int64_t>();
    epoch_ = cursor[2].item<int64_t>();
    queue_.load(archive, history_.device());  // a run may resume on another device
  }

 private:
  // The ring buffer of the last `history` losses.
  void remember(const torch::Tensor& losses) {
    const int64_t capacity = history_.size(0);
    const auto recent = losses.size(0) > capacity ? losses.narrow(0, losses.size(0) - capacity, capacity) : losses;
    const int64_t count = recent.size(0);
    const auto slots = torch::arange(write_, write_ + count, history_.options().dtype(torch::kLong)).remainder(capacity);
    history_.index_copy_(0, slots, recent);
    write_ = (write_ + count) % capacity;
    filled_ = std::min(capacity, filled_ + count);
  }

  SamplerOptions options_;
  torch::Tensor history_;
  int64_t filled_ = 0, write_ = 0, epoch_ = 0;
  BatchQueue queue_;
};

const bool registered = samplers().add_type<SelectiveBackprop>(
    "selective_backprop", "keep each scored sample with probability CDF(loss)^beta, train on queues of b kept samples",
    {.defaults = {{"sampler.ratio", "1.0"}}, .reads = {"sampler.mini_batch", "sampler.ratio", "sampler.sb_beta",
        "sampler.p_min", "sampler.history"}});

}  // namespace
}  // namespace esrun
