#include "esrun/train/data_parallel.h"

#include <chrono>

#include "esrun/core/error.h"

namespace esrun {
namespace {

// Adds the host time of its scope to `seconds`.
class Stopwatch {
 public:
  explicit Stopwatch(double& seconds) : seconds_(seconds), start_(std::chrono::steady_clock::now()) {}
  ~Stopwatch() { seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }
  Stopwatch(const Stopwatch&) = delete;
  Stopwatch& operator=(const Stopwatch&) = delete;

 private:
  double& seconds_;
  std::chrono::steady_clock::time_point start_;
};

constexpr int64_t kBucketBytes = 25 << 20;  // as DDP's default bucket_cap_mb

}  // namespace

DataParallel::DataParallel(std::shared_ptr<ProcessGroup> group) : group_(std::move(group)) {}

namespace {
DataParallel::Share share_of(int64_t rows, int64_t world, int64_t rank) {
  const int64_t base = rows / world, extra = rows % world;
  return DataParallel::Share{rank * base + std::min(rank, extra), base + (rank < extra ? 1 : 0)};
}
}  // namespace

DataParallel::Share DataParallel::share(int64_t rows) const { return share_of(rows, world_size(), rank()); }

torch::Tensor DataParallel::gather(const torch::Tensor& local, int64_t rows) {
  if (!distributed()) return local;
  ESRUN_INTERNAL_CHECK(local.size(0) == share(rows).size, "rank ", rank(), " gathers ", local.size(0), " rows, not its share ",
              share(rows).size, " of ", rows);
  Stopwatch timed(gather_seconds_);
  // Padded to the largest share, so that every rank sends the same shape.
  const int64_t padded = (rows + world_size() - 1) / world_size();
  auto shape = local.sizes().vec();
  shape[0] = padded - local.size(0);
  const auto all = group_->all_gather(torch::cat({local, torch::zeros(shape, local.options())}));
  std::vector<torch::Tensor> parts;
  for (int r = 0; r < world_size(); ++r) parts.push_back(all.narrow(0, r * padded, share_of(rows, world_size(), r).size));
  return torch::cat(parts);
}

void DataParallel::attach(const std::vector<torch::Tensor>& parameters) {
  if (!distributed()) return;
  const auto options = torch::TensorOptions().dtype(torch::kFloat).device(group_->device());
  std::vector<int64_t> sizes;
  for (auto p = parameters.rbegin(); p != parameters.rend(); ++p) {
    if (!p->requires_grad()) continue;
    if (sizes.empty() || (sizes.back() > 0 && (sizes.back() + p->numel()) * 4 > kBucketBytes)) sizes.push_back(0);
    slots_.push_back(Slot{*p, sizes.size() - 1, sizes.back()});
    sizes.back() += p->numel();
  }
  for (const int64_t size : sizes) buckets_.push_back(Bucket{torch::zeros({size}, options)});
  for (size_t i = 0; i < slots_.size(); ++i) {
    ++buckets_[slots_[i].bucket].waiting;
    slots_[i].parameter.register_hook([this, i](const torch::Tensor& gradient) { on_gradient(i, gradient); });
  }
}

void DataParallel::on_gradient(size_t slot, const torch::Tensor& gradient) {
  if (!armed_ || slots_[slot].filled) return;
  torch::NoGradGuard no_grad;
  // The hook sees this pass's gradient before it is added to the earlier passes'.
  const auto& earlier = slots_[slot].parameter.grad();
  fill(slot, earlier.defined() ? earlier + gradient : gradient);
  start_ready_buckets();
}

void DataParallel::fill(size_t slot, const torch::Tensor& gradient) {
  Slot& s = slots_[slot];
  auto part = buckets_[s.bucket].flat.narrow(0, s.offset, s.parameter.numel());
  if (gradient.defined()) part.copy_(gradient.reshape({-1}));
  else part.zero_();
  s.filled = true;
  s.has_gradient = gradient.defined();
  --buckets_[s.bucket].waiting;
}

void DataParallel::start_ready_buckets() {
  while (next_bucket_ < buckets_.size() && buckets_[next_bucket_].waiting == 0)
    group_->start_all_reduce(buckets_[next_bucket_++].flat);
}

torch::Tensor DataParallel::reduce_gradients(const torch::Tensor& loss) {
  if (!distributed()) return loss;
  Stopwatch timed(reduce_seconds_);  // what the backward pass did not hide
  torch::NoGradGuard no_grad;
  armed_ = false;
  for (size_t i = 0; i < slots_.size(); ++i)
    if (!slots_[i].filled) fill(i, slots_[i].parameter.grad());  // no gradient in the last pass
  start_ready_buckets();
  // Then one more: per parameter whether any rank has its gradient, and the loss.
  std::vector<float> flags;
  for (const auto& s : slots_) flags.push_back(s.has_gradient ? 1.0f : 0.0f);
  std::vector<torch::Tensor> header{torch::cat({torch::tensor(flags, torch::kFloat).to(group_->device()),
                                                loss.detach().to(group_->device(), torch::kFloat).reshape({1})})};
  group_->all_reduce(header);
  group_->finish_all_reduces();
  const auto summed = header[0].cpu();  // the one host read of a step
  const float* any = summed.data_ptr<float>();
  for (size_t i = 0; i < slots_.size(); ++i) {
    Slot& s = slots_[i];
    if (any[i] > 0) {
      const auto sum = buckets_[s.bucket].flat.narrow(0, s.offset, s.parameter.numel()).view(s.parameter.sizes());
      if (s.parameter.grad().defined()) s.parameter.mutable_grad().copy_(sum);
      else s.parameter.mutable_grad() = sum.to(s.parameter.options()).clone();
    }
    s.filled = false;
    ++buckets_[s.bucket].waiting;
  }
  next_bucket_ = 0;
  return torch::tensor(any[slots_.size()], loss.options()).reshape({});
}

namespace {
// An all-reduce in the autograd graph: forward and backward both sum over the ranks.
struct SumOverRanks : torch::autograd::Function<SumOverRanks> {
  static torch::Tensor forward(torch::autograd::AutogradContext* context, const torch::Tensor& input,
                               ProcessGroup* group) {
    context->saved_data["group"] = reinterpret_cast<int64_t>(group);
    std::vector<torch::Tensor> sum{input.clone()};
    group->all_reduce(sum);
    return sum[0];
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* context,
                                                 torch::autograd::variable_list gradients) {
    auto* group = reinterpret_cast<ProcessGroup*>(context->saved_data["group"].toInt());
    std::vector<torch::Tensor> sum{gradients[0].contiguous().clone()};
    group->all_reduce(sum);
    return {sum[0], torch::Tensor()};
  }
};
}  // namespace

torch::Tensor DataParallel::sum_over_ranks(const torch::Tensor& tensor) {
  if (!distributed()) return tensor;
  Stopwatch timed(reduce_seconds_);
  return SumOverRanks::apply(tensor, group_.get());
}

void DataParallel::average_batchnorm(torch::nn::Module& model) {
  if (!distributed()) return;
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> statistics;
  for (const auto& buffer : model.named_buffers()) {
    const std::string& name = buffer.key();
    const auto ends_with = [&](const std::string& suffix) {
      return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
    };
    if (ends_with("running_mean") || ends_with("running_var")) statistics.push_back(buffer.value());
  }
  if (statistics.empty()) return;
  Stopwatch timed(reduce_seconds_);
  group_->all_reduce(statistics);
  for (auto& s : statistics) s.div_(static_cast<double>(world_size()));
}

void DataParallel::broadcast(std::vector<torch::Tensor> tensors) {
  if (!distributed()) return;
  torch::NoGradGuard no_grad;
  group_->broadcast(tensors);
}

std::vector<int64_t> DataParallel::max(const std::vector<int64_t>& values) {
  if (!distributed()) return values;
  std::vector<torch::Tensor> one{torch::tensor(values, torch::kLong)};
  group_->all_reduce(one, ProcessGroup::Reduce::Max);
  return std::vector<int64_t>(one[0].data_ptr<int64_t>(), one[0].data_ptr<int64_t>() + one[0].numel());
}

void DataParallel::require_same(const std::string& what, const std::string& value, const std::string& consequence) {
  if (distributed()) group_->require_same(what, value, consequence);
}

}  // namespace esrun
