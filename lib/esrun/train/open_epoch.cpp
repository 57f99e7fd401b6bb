#include "esrun/train/open_epoch.h"

#include <type_traits>

#include "esrun/core/error.h"

namespace esrun {
namespace {

torch::Tensor or_empty(const torch::Tensor& t, torch::ScalarType type) {
  return t.defined() ? t.cpu() : torch::empty({0}, type);
}

torch::Tensor read_tensor(torch::serialize::InputArchive& archive, const std::string& key) {
  torch::Tensor t;
  archive.read(key, t);
  return t;
}

// Format 1's layout: sums [loss, correct, noisy, first_bad_step]; counters [epoch, next_step,
// samples_backward, skipped_steps, images, samples_forward, backward_passes]; seconds
// [seconds_before, data, score_forward, select, train_step, gather, reduce]. A shorter vector reads
// its missing entries as 0.
void read_positional(torch::serialize::InputArchive& archive, OpenEpoch& o) {
  const auto sums = read_tensor(archive, "sums").to(o.loss.device());
  const auto counters = read_tensor(archive, "counters"), seconds = read_tensor(archive, "seconds");
  o.loss = sums[0], o.correct = sums[1], o.noisy = sums[2], o.first_bad_step = sums[3];
  const auto count = [&](int64_t i) { return i < counters.size(0) ? counters[i].item<int64_t>() : 0; };
  const auto second = [&](int64_t i) { return i < seconds.size(0) ? seconds[i].item<double>() : 0.0; };
  o.next_step = count(1), o.samples_backward = count(2), o.skipped_steps = count(3), o.images = count(4);
  o.record.samples_forward = count(5), o.backward_passes = count(6);
  PhaseTimes& t = o.record.time;
  o.seconds_before = second(0);
  t.data = second(1), t.score_forward = second(2), t.select = second(3), t.train_step = second(4);
  t.gather = second(5), t.reduce = second(6);
}

}  // namespace

OpenEpoch::OpenEpoch(int64_t e, torch::Tensor plan, torch::Tensor plan_weights, int64_t meta_batches,
                     torch::Device device)
    : epoch(e), order(std::move(plan)), order_weights(std::move(plan_weights)), steps(meta_batches) {
  record.epoch = epoch;
  const auto sum_options = torch::TensorOptions().dtype(torch::kDouble).device(device);
  loss = torch::zeros({}, sum_options);
  correct = torch::zeros({}, sum_options);
  noisy = torch::zeros({}, sum_options);
  first_bad_step = torch::full({}, -1.0, sum_options);
}

void OpenEpoch::save(torch::serialize::OutputArchive& archive) const {
  archive.write("epoch", torch::tensor(epoch, torch::kLong));
  archive.write("order", order.cpu());
  archive.write("order_weights", or_empty(order_weights, torch::kFloat));
  fields(*this, [&](const char* key, const auto& value) {
    using T = std::decay_t<decltype(value)>;
    if constexpr (std::is_same_v<T, torch::Tensor>) archive.write(key, value.cpu());
    else if constexpr (std::is_same_v<T, double>) archive.write(key, torch::tensor(value, torch::kDouble));
    else archive.write(key, torch::tensor(value, torch::kLong));
  });
}

SavedEpochPlan read_open_epoch_plan(torch::serialize::InputArchive& archive, int64_t format) {
  SavedEpochPlan plan;
  plan.epoch = (format >= 2 ? read_tensor(archive, "epoch") : read_tensor(archive, "counters")[0]).item<int64_t>();
  plan.order = read_tensor(archive, "order");
  const auto weights = read_tensor(archive, "order_weights");
  if (weights.numel() > 0) plan.order_weights = weights;
  return plan;
}

void read_open_epoch_progress(torch::serialize::InputArchive& archive, int64_t format, OpenEpoch& open) {
  if (format < 2) return read_positional(archive, open);
  const torch::Device device = open.loss.device();
  OpenEpoch::fields(open, [&](const char* key, auto& value) {
    using T = std::decay_t<decltype(value)>;
    torch::Tensor saved;
    if (!archive.try_read(key, saved)) {
      ESRUN_CHECK(format < 3 && OpenEpoch::added_in_format_3(key), "its open epoch has no '", key, "'");
      return;
    }
    if constexpr (std::is_same_v<T, torch::Tensor>) value = saved.to(device);
    else value = saved.item<T>();
  });
  open.record.time.eval = open.eval_seconds;  // the evaluations within the epoch so far
}

}  // namespace esrun
