// linear_synthetic: AdaSelection's synthetic regression, y = slope * x + intercept + e with
// x ~ U[x_low, x_high) and e ~ N(0, noise^2) (defaults y = 2x + 1, 10,000 training and 5,000 test
// samples, as its Table 2; the paper gives neither the range of x nor the noise, so x in [-5, 5)
// and noise 1 are ours). Deterministic from the data stream's seed; one feature, regression.
#include "esrun/core/rng.h"
#include "esrun/data/dataset.h"

namespace esrun {
namespace {

Split draw(const LinearOptions& options, int64_t count, at::Generator gen) {
  const auto x = torch::rand({count, 1}, gen, torch::kDouble) * (options.x_high - options.x_low) + options.x_low;
  const auto noise = torch::randn({count}, gen, torch::kDouble) * options.noise;
  const auto y = options.slope * x.view({count}) + options.intercept + noise;
  return Split{x.to(torch::kFloat), y.to(torch::kFloat), torch::arange(count, torch::kLong), {}};
}

Dataset make_linear_synthetic(const DataOptions& options) {
  Dataset data;
  data.name = "linear_synthetic";
  data.task = "regression";
  data.train = draw(options.linear, options.linear.train_size, make_generator(options.seed, "linear_train"));
  data.test = draw(options.linear, options.linear.test_size, make_generator(options.seed, "linear_test"));
  return data;
}

const bool registered = datasets().add(
    "linear_synthetic", "AdaSelection's y = slope * x + intercept + Gaussian noise (data.linear.*); regression",
    make_linear_synthetic,
    {.reads = {"data.linear.train_size", "data.linear.test_size", "data.linear.slope", "data.linear.intercept",
        "data.linear.noise", "data.linear.x_low", "data.linear.x_high"}});

}  // namespace
}  // namespace esrun
