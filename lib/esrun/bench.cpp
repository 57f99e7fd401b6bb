#include "esrun/bench.h"

#include <spdlog/spdlog.h>

#include "esrun/core/device.h"
#include "esrun/core/error.h"
#include "esrun/core/rng.h"
#include "esrun/core/timer.h"
#include "esrun/core/torch_compat.h"
#include "esrun/data/dataset.h"
#include "esrun/train/trainer.h"

namespace esrun {

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
  const auto draw = [&] { return torch::randint(0, n, {batch_size}, gen, torch::kLong).to(trainer.data().train.images.device()); };
  const double lr = config.optimizer.lr;

  // Each phase runs warmup + steps times; only the last `steps` count.
  const auto time_phase = [&](const std::function<void(const Batch&)>& phase) {
    double seconds = 0.0, ignored = 0.0;
    PhaseClock clock(device);
    for (int i = 0; i < options.warmup + options.steps; ++i) {
      const Batch batch = trainer.make_batch(draw());
      clock.restart();
      phase(batch);
      clock.lap(i < options.warmup ? ignored : seconds);
    }
    return seconds / options.steps;
  };
  double data_seconds = 0.0;
  {
    double ignored = 0.0;
    PhaseClock clock(device);
    for (int i = 0; i < options.warmup + options.steps; ++i) {
      const auto indices = draw();
      clock.restart();
      trainer.make_batch(indices);
      clock.lap(i < options.warmup ? ignored : data_seconds);
    }
    data_seconds /= options.steps;
  }
  const double score_seconds = time_phase([&](const Batch& b) { trainer.score(b); });
  const double train_seconds = time_phase([&](const Batch& b) { trainer.train_step(b.inputs, b.targets, {}, lr); });

  const auto phase = [&](double seconds) {
    return nlohmann::json{{"seconds_per_step", seconds}, {"images_per_s", static_cast<double>(batch_size) / seconds}};
  };
  return {
      {"model", config.model.name},
      {"dataset", config.data.name},
      {"batch", batch_size},
      {"steps", options.steps},
      {"warmup", options.warmup},
      {"device", device.str()},
      {"threads", threads},
      {"libtorch_version", compat::libtorch_version()},
      {"data", phase(data_seconds)},
      {"score_forward", phase(score_seconds)},
      {"train_step", phase(train_seconds)},
      {"forward_over_train", score_seconds / train_seconds},
  };
}

}  // namespace esrun
