#include "esrun/commands/bench.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "esrun/core/build_info.h"
#include "esrun/core/device.h"
#include "esrun/core/error.h"
#include "esrun/core/rng.h"
#include "esrun/core/timer.h"
#include "esrun/data/dataset.h"
#include "esrun/sampling/policy.h"
#include "esrun/train/trainer.h"

namespace esrun {

namespace {

// The configured sampler on a synthetic training set of options.policy_n samples: per meta-batch,
// select() on random scores and observe() of the chosen rows, as in a selecting epoch; its seconds
// per step beside the training step's `train_seconds`.
nlohmann::json bench_bookkeeping(const RunConfig& config, const BenchOptions& options, int64_t num_classes,
                                 torch::Device device, double train_seconds) {
  const int64_t batch_size = config.sampler.meta_batch;
  ESRUN_CHECK(!config.sampler.scores, "--policy-n: ", config.sampler.name, " reads the scores file of the run's "
              "training split, which a synthetic set of ", options.policy_n, " samples does not match; bench it "
              "without --policy-n");
  const PolicyContext context{options.policy_n, config.train.epochs, num_classes, device,
                              derive_seed(config.seed, "policy"), nullptr};
  auto policy = samplers().create(config.sampler.name, config.resolved.where("sampler.name"), config.sampler, context);
  const int64_t epoch = config.train.epochs / 2;
  const EpochPlan plan = policy->plan_epoch(epoch);
  const bool scoring = policy->needs_scores(epoch);
  const auto float_options = torch::TensorOptions().device(device);
  const int64_t planned = plan.indices.size(0);
  double seconds = 0.0, ignored = 0.0;
  PhaseClock clock(device);
  for (int i = 0; i < options.warmup + options.steps; ++i) {
    const int64_t begin = (static_cast<int64_t>(i) * batch_size) % std::max<int64_t>(1, planned - batch_size);
    const auto indices = plan.indices.narrow(0, begin, std::min(batch_size, planned));
    const int64_t b = indices.size(0);
    const Batch batch{indices, torch::Tensor(), torch::zeros({b}, torch::TensorOptions().dtype(torch::kLong).device(device))};
    const auto losses = torch::rand({b}, float_options) * 3;
    Scores scores;
    if (scoring) scores = Scores{losses, losses.square(), torch::rand({b}, float_options).lt(0.5)};
    clock.restart();
    const Selection selection = policy->select(batch, scores);
    const auto rows = selection.positions.defined() ? selection.positions : torch::arange(b, indices.options());
    const auto chosen = losses.index_select(0, rows);
    policy->observe(Observation{{chosen, chosen.square(), torch::ones_like(rows).to(torch::kBool), torch::full_like(chosen, 0.9)},
                                epoch, indices.index_select(0, rows), true});
    clock.lap(i < options.warmup ? ignored : seconds);
  }
  clock.settle();
  seconds /= options.steps;
  return {{"sampler", config.sampler.name},
          {"train_size", options.policy_n},
          {"seconds_per_step", seconds},
          {"share_of_train_step", seconds / train_seconds}};
}

}  // namespace

double break_even_ratio(double forward_seconds, std::vector<StepCost> steps, int64_t meta_batch) {
  std::sort(steps.begin(), steps.end(), [](const StepCost& a, const StepCost& b) { return a.rows < b.rows; });
  ESRUN_INTERNAL_CHECK(!steps.empty() && steps.back().rows == meta_batch, "break-even without the step at B = ", meta_batch);
  const double budget = steps.back().seconds - forward_seconds;  // what the step on b rows may cost
  // The largest measured size still within the budget, then up to where the next one's line crosses
  // it (noisy timings need not grow with the rows, so the first crossing need not be the last).
  size_t below = steps.size();
  for (size_t i = steps.size(); i-- > 0;)
    if (steps[i].seconds < budget) {
      below = i;
      break;
    }
  if (below == steps.size()) return 0.0;
  if (below + 1 == steps.size()) return 1.0;  // even step(B) is within: a forward of negative cost
  const StepCost& lower = steps[below];
  const StepCost& upper = steps[below + 1];
  const double t = (budget - lower.seconds) / (upper.seconds - lower.seconds);
  return (static_cast<double>(lower.rows) + t * static_cast<double>(upper.rows - lower.rows)) / static_cast<double>(meta_batch);
}

nlohmann::json bench_throughput(const RunRequest& request, const BenchOptions& options) {
  ESRUN_CHECK(options.steps > 0 && options.warmup >= 0, "bench: expected --steps > 0 and --warmup >= 0, got ",
              options.steps, " and ", options.warmup);
  const RunConfig config = load_config(request);
  check_environment(config);
  const torch::Device device = resolve_device(config.device, config.resolved.where("device"));
  const int threads = configure_threads(static_cast<int>(config.threads));
  Trainer trainer(config, load_dataset(config), device);
  const int64_t batch_size = config.sampler.meta_batch;
  const int64_t n = trainer.data().train.size();
  auto gen = make_generator(config.seed, "bench");
  const auto draw = [&] { return torch::randint(0, n, {batch_size}, gen, torch::kLong).to(trainer.data_device()); };
  const double lr = config.optimizer.lr;

  // Each phase runs warmup + steps times; only the last `steps` count.
  const auto time_phase = [&](const std::function<void(const Batch&)>& phase) {
    double seconds = 0.0, ignored = 0.0;
    PhaseClock clock(device);
    for (int i = 0; i < options.warmup + options.steps; ++i) {
      const Batch batch = trainer.make_batch(draw(), static_cast<uint64_t>(i));
      clock.restart();
      phase(batch);
      clock.lap(i < options.warmup ? ignored : seconds);
    }
    clock.settle();
    return seconds / options.steps;
  };
  double data_seconds = 0.0;
  {
    double ignored = 0.0;
    PhaseClock clock(device);
    for (int i = 0; i < options.warmup + options.steps; ++i) {
      const auto indices = draw();
      clock.restart();
      trainer.make_batch(indices, static_cast<uint64_t>(i));
      clock.lap(i < options.warmup ? ignored : data_seconds);
    }
    clock.settle();
    data_seconds /= options.steps;
  }
  const double score_seconds = time_phase([&](const Batch& b) { trainer.score(b); });
  const double train_seconds = time_phase([&](const Batch& b) { trainer.train_step(b.inputs, b.targets, {}, lr); });
  // The step on b = B/8, ..., 7B/8 rows of the meta-batch, for the break-even b/B.
  std::vector<StepCost> steps;
  nlohmann::json by_rows = nlohmann::json::array();
  for (int64_t eighths = 1; eighths <= 8; ++eighths) {
    const int64_t rows = std::max<int64_t>(1, (batch_size * eighths + 4) / 8);
    if (!steps.empty() && rows == steps.back().rows) continue;
    const double seconds = rows == batch_size ? train_seconds : time_phase([&](const Batch& b) {
      trainer.train_step(b.inputs.narrow(0, 0, rows), b.targets.narrow(0, 0, rows), {}, lr);
    });
    steps.push_back({rows, seconds});
    by_rows.push_back({{"rows", rows}, {"seconds_per_step", seconds}});
  }

  // Text: the mean number of real (unpadded) tokens of a training example, for tokens/s.
  const Split& train = trainer.data().train;
  const double tokens = trainer.data().text() ? train.inputs.select(1, 1).gt(0).sum().item<double>() / static_cast<double>(n) : 0.0;
  const auto phase = [&](double seconds) {
    nlohmann::json out{{"seconds_per_step", seconds}, {"images_per_s", static_cast<double>(batch_size) / seconds}};
    if (tokens > 0) out["tokens_per_s"] = tokens * static_cast<double>(batch_size) / seconds;
    return out;
  };
  nlohmann::json bookkeeping;
  if (options.policy_n > 0)
    bookkeeping = bench_bookkeeping(config, options, trainer.data().num_classes, device, train_seconds);
  return {
      {"model", config.model.name},
      {"dataset", config.data.name},
      {"batch", batch_size},
      {"steps", options.steps},
      {"warmup", options.warmup},
      {"device", device.str()},
      {"threads", threads},
      {"build", to_json(build_info())},
      {"data", phase(data_seconds)},
      {"score_forward", phase(score_seconds)},
      {"train_step", phase(train_seconds)},
      {"forward_over_train", score_seconds / train_seconds},
      {"train_step_by_rows", by_rows},
      {"break_even_ratio", break_even_ratio(score_seconds, steps, batch_size)},
      {"tokens_per_sample", tokens > 0 ? nlohmann::json(tokens) : nlohmann::json(nullptr)},
      {"policy_bookkeeping", bookkeeping},
  };
}

}  // namespace esrun
