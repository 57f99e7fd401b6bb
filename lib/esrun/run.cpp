#include "esrun/run.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <iomanip>

#include "esrun/core/device.h"
#include "esrun/core/error.h"
#include "esrun/core/torch_compat.h"
#include "esrun/data/dataset.h"
#include "esrun/metrics/run_directory.h"
#include "esrun/models/model.h"
#include "esrun/optim/optimizer.h"
#include "esrun/optim/schedule.h"
#include "esrun/sampling/policy.h"
#include "esrun/train/trainer.h"

namespace esrun {
namespace {

std::string format_record(const EpochRecord& r, int64_t epochs, double images_per_second) {
  std::ostringstream line;
  const auto percent = [](double v) { return fmt::format("{:.2f}%", 100 * v); };
  line << std::fixed << std::setprecision(4) << "epoch " << r.epoch + 1 << "/" << epochs << "  lr " << r.lr
       << std::setprecision(3) << "  train loss " << r.train_loss << " acc " << percent(r.train_acc);
  if (r.evaluated) line << "  test loss " << r.test_loss << " acc " << percent(r.test_acc);
  line << "  bp " << r.samples_backward << "/" << r.epoch_dataset_size;
  if (r.noisy_backward_fraction) line << "  noisy " << percent(*r.noisy_backward_fraction);
  line << std::setprecision(1) << "  " << r.time.epoch_total << "s (" << std::setprecision(0) << images_per_second
       << " img/s)";
  return line.str();
}

}  // namespace

RunConfig load_config(const RunRequest& request) {
  return load_run_config(resolve_config(request.configs, request.sets));
}

RunResult run(const RunRequest& request) {
  const auto wall_start = std::chrono::steady_clock::now();
  const RunConfig config = load_config(request);
  check_environment(config);
  const torch::Device device = resolve_device(config.device, config.resolved.where("device"));
  const int threads = configure_threads(static_cast<int>(config.threads));

  RunDirectory dir = RunDirectory::create(config.out_root, config.name, config.seed, request.out);
  dir.write_atomic("config.resolved.yaml", config.resolved.to_yaml());
  spdlog::info("run directory {}", dir.path().string());

  ImageDataset data = load_dataset(config);
  spdlog::info("{}: {} train / {} test images, {} classes{}", data.name, data.train.size(), data.test.size(),
               data.num_classes,
               config.data.label_noise.kind == NoiseKind::None
                   ? std::string()
                   : fmt::format(", {} noise on {} labels", to_string(config.data.label_noise.kind),
                                 data.noisy_mask.sum().item<int64_t>()));
  Trainer trainer(config, std::move(data), device);
  spdlog::info("{} on {} ({} threads), sampler {}, B={}, b={}", config.model.name, device.str(), threads,
               config.sampler.name, config.sampler.meta_batch, config.sampler.resolved_mini_batch);

  double best_acc = -1, final_acc = 0, final_loss = 0;
  int64_t best_epoch = -1, samples_forward_total = 0, samples_backward_total = 0;
  double train_seconds = 0;
  trainer.fit([&](const EpochRecord& record) {
    dir.append_metrics(to_json(record));
    const double busy = record.time.epoch_total - record.time.eval;
    const double rate = busy > 0 ? static_cast<double>(record.samples_backward + record.samples_forward) / busy : 0.0;
    spdlog::info(format_record(record, trainer.epochs(), rate));
    if (record.evaluated) {
      final_acc = record.test_acc;
      final_loss = record.test_loss;
      if (record.test_acc > best_acc) best_acc = record.test_acc, best_epoch = record.epoch;
    }
    samples_forward_total += record.samples_forward;
    samples_backward_total = record.samples_backward_total;
    train_seconds = record.time.train_total_so_far;
  });

  nlohmann::json summary = {
      {"name", config.name},
      {"seed", config.seed},
      {"epochs", trainer.epochs()},
      {"final_test_acc", final_acc},
      {"final_test_loss", final_loss},
      {"best_test_acc", best_acc},
      {"best_epoch", best_epoch},
      {"train_time_s", train_seconds},
      {"wall_time_s", std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count()},
      {"samples_backward_total", samples_backward_total},
      {"samples_forward_total", samples_forward_total},
      {"config_hash", config.resolved.hash()},
      {"esrun_version", ESRUN_VERSION},
      {"libtorch_version", compat::libtorch_version()},
      {"device", device.str()},
      {"threads", threads},
  };
  dir.write_atomic("summary.json", summary.dump(2) + "\n");
  spdlog::info("done: final test acc {:.2f}%, best {:.2f}% (epoch {}), train time {:.1f}s -> {}", 100 * final_acc,
               100 * best_acc, best_epoch + 1, train_seconds, dir.path().string());
  return RunResult{dir.path(), summary};
}

std::string list_registered(const std::string& kind) {
  const std::vector<std::pair<std::string, const RegistryView*>> all = {
      {"models", &models()}, {"datasets", &datasets()}, {"samplers", &samplers()},
      {"optimizers", &optimizers()}, {"schedules", &schedules()}};
  std::ostringstream out;
  bool found = false;
  for (const auto& [name, registry] : all) {
    if (!kind.empty() && kind != name) continue;
    found = true;
    out << name << ":\n";
    for (const auto& entry : registry->entries())
      out << "  " << std::left << std::setw(18) << entry.name << " " << entry.help << "\n";
  }
  ESRUN_CHECK(found, "unknown list '", kind, "'; known: models, datasets, samplers, optimizers, schedules");
  return out.str();
}

}  // namespace esrun
