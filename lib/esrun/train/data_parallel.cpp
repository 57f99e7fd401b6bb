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
  ESRUN_CHECK(local.size(0) == share(rows).size, "internal: rank ", rank(), " gathers ", local.size(0), " rows, not its share ",
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

Scores DataParallel::gather(const Scores& local, int64_t rows) {
  if (!distributed()) return local;
  // One all-gather of the three columns.
  const auto all = gather(torch::stack({local.losses.to(torch::kFloat), local.grad_norms.to(torch::kFloat),
                                        local.correct.to(torch::kFloat)}, 1),
                          rows);
  return Scores{all.select(1, 0), all.select(1, 1), all.select(1, 2).to(torch::kBool)};
}

Observation DataParallel::gather(const Observation& local, int64_t rows) {
  if (!distributed()) return local;
  const auto all = gather(torch::stack({local.losses.to(torch::kFloat), local.grad_norms.to(torch::kFloat),
                                        local.correct.to(torch::kFloat), local.confidence.to(torch::kFloat)}, 1),
                          rows);
  Observation observation = local;
  observation.losses = all.select(1, 0);
  observation.grad_norms = all.select(1, 1);
  observation.correct = all.select(1, 2).to(torch::kBool);
  observation.confidence = all.select(1, 3);
  return observation;
}

torch::Tensor DataParallel::reduce_gradients(const std::vector<torch::Tensor>& parameters, const torch::Tensor& loss) {
  if (!distributed()) return loss;
  Stopwatch timed(reduce_seconds_);
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> trainable;
  for (const auto& p : parameters)
    if (p.requires_grad()) trainable.push_back(p);
  const auto count = static_cast<int64_t>(trainable.size());
  const auto on = trainable.empty() ? loss.device() : trainable[0].device();
  const auto options = torch::TensorOptions().dtype(torch::kFloat).device(on);
  // The first bucket starts with a header: one flag per parameter (this rank has its gradient)
  // and the loss; both are summed with the gradients.
  std::vector<float> flags;
  for (const auto& p : trainable) flags.push_back(p.grad().defined() ? 1.0f : 0.0f);
  const auto header = torch::cat({torch::tensor(flags, torch::kFloat).to(on), loss.detach().to(options).reshape({1})});

  torch::Tensor summed_loss, defined_anywhere;  // after the first bucket: `flags` summed
  for (int64_t first = 0; first < count || first == 0;) {
    int64_t last = first, elements = 0;
    while (last < count && (last == first || (elements + trainable[last].numel()) * 4 <= kBucketBytes))
      elements += trainable[last++].numel();
    std::vector<torch::Tensor> pieces;
    if (first == 0) pieces.push_back(header);
    for (int64_t i = first; i < last; ++i) {
      const auto& grad = trainable[i].grad();
      pieces.push_back(grad.defined() ? grad.reshape({-1}).to(torch::kFloat) : torch::zeros({trainable[i].numel()}, options));
    }
    std::vector<torch::Tensor> flat{torch::cat(pieces)};
    group_->all_reduce(flat);
    int64_t offset = 0;
    if (first == 0) {
      defined_anywhere = flat[0].narrow(0, 0, count).gt(0).cpu();  // the one host read of a step
      flags.assign(defined_anywhere.data_ptr<bool>(), defined_anywhere.data_ptr<bool>() + count);
      summed_loss = flat[0].narrow(0, count, 1).reshape({}).to(loss.scalar_type());
      offset = count + 1;
    }
    for (int64_t i = first; i < last; ++i) {
      auto& p = trainable[i];
      const auto sum = flat[0].narrow(0, offset, p.numel()).view(p.sizes());
      offset += p.numel();
      if (flags[static_cast<size_t>(i)] == 0.0f) continue;
      if (p.grad().defined()) p.mutable_grad().copy_(sum);
      else p.mutable_grad() = sum.to(p.scalar_type()).clone();
    }
    if (last == first) break;  // no parameters: the header alone
    first = last;
  }
  return summed_loss;
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
