#include "esrun/commands/summary.h"

#include <spdlog/fmt/fmt.h>

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <sstream>

#include "esrun/config/schema.h"
#include "esrun/tasks/task.h"

namespace esrun {
namespace {

nlohmann::json json_value(ValueType type, const YAML::Node& node) {
  if (node.IsNull()) return nullptr;
  switch (type) {
    case ValueType::Int: return node.as<int64_t>();
    case ValueType::Float: return node.as<double>();
    case ValueType::Bool: return node.as<bool>();
    case ValueType::String: return node.as<std::string>();
    case ValueType::IntList: return node.as<std::vector<int64_t>>();
    case ValueType::FloatList: return node.as<std::vector<double>>();
    case ValueType::StringList: return node.as<std::vector<std::string>>();
  }
  return nullptr;
}

}  // namespace

nlohmann::json sampler_settings(const RunConfig& config) {
  nlohmann::json settings = nlohmann::json::object();
  for (const auto& key : config_schema()) {
    if (key.path.rfind("sampler.", 0) != 0) continue;
    if (!key.used_by.empty() &&
        std::find(key.used_by.begin(), key.used_by.end(), config.sampler.name) == key.used_by.end())
      continue;
    settings[key.path.substr(8)] = json_value(key.type, config.resolved.value(key.path));
  }
  return settings;
}

nlohmann::json summarise(const std::vector<nlohmann::json>& records) {
  static const char* metrics[] = {"loss", "acc", "acc5", "mse", "rmse", "mae", "r2", "f1", "mcc", "pearson", "spearman", "perplexity"};
  const nlohmann::json* last = nullptr;
  const nlohmann::json* best = nullptr;
  int64_t forward = 0, backward = 0, passes = 0;
  double train_seconds = 0;
  for (const auto& r : records) {
    if (r.contains("test_score") && !r["test_score"].is_null()) {  // records of the earliest runs have none
      last = &r;
      if (!best || r["test_score"].get<double>() > (*best)["test_score"].get<double>()) best = &r;
    }
    forward += r["samples_forward"].get<int64_t>();
    passes += r.value("backward_passes", int64_t{0});  // records of the earliest runs have none
    backward = r["samples_backward_total"].get<int64_t>();
    train_seconds = r["time"]["train_total_so_far"].get<double>();
  }
  nlohmann::json summary = {{"best_epoch", best ? (*best)["epoch"].get<int64_t>() : -1},
                            {"train_time_s", train_seconds},
                            {"samples_backward_total", backward},
                            {"samples_forward_total", forward},
                            {"backward_passes_total", passes}};
  for (const char* metric : metrics) {
    const std::string key = std::string("test_") + metric;
    summary["final_" + key] = last ? last->value(key, nlohmann::json(nullptr)) : nlohmann::json(nullptr);
    summary["best_" + key] = best ? best->value(key, nlohmann::json(nullptr)) : nlohmann::json(nullptr);
  }
  return summary;
}

nlohmann::json time_to_target(const std::vector<nlohmann::json>& evaluations, const std::vector<double>& targets,
                              const std::string& metric, bool lower_is_better) {
  nlohmann::json out = nlohmann::json::array();
  const std::string key = "test_" + metric;
  for (const double target : targets) {
    nlohmann::json entry = {{"target", target}, {"reached", false}, {"epoch", nullptr}, {"optimizer_steps", nullptr},
                            {"samples_backward", nullptr}, {"train_time_s", nullptr}};
    for (const auto& point : evaluations) {
      const auto& value = point.contains(key) ? point[key] : nlohmann::json();
      if (!value.is_number()) continue;
      const double v = value.get<double>();
      if (!std::isfinite(v) || (lower_is_better ? v > target : v < target)) continue;
      entry.update({{"reached", true}, {"epoch", point["epoch"]}, {"optimizer_steps", point["optimizer_steps"]},
                    {"samples_backward", point["samples_backward"]}, {"train_time_s", point["train_time_s"]}});
      break;
    }
    out.push_back(entry);
  }
  return out;
}

nlohmann::json budget_summary(const Budget& budget, const Spent& reached) {
  return {{"kind", to_string(budget.kind())},
          {"amount", budget.amount()},
          {"reached", {{"epochs", reached.epochs}, {"steps", reached.steps}, {"samples", reached.samples},
                       {"seconds", reached.seconds}}}};
}

std::string format_record(const EpochRecord& r, const Task& task, int64_t epochs, double images_per_second) {
  std::ostringstream line;
  const auto percent = [](double v) { return fmt::format("{:.2f}%", 100 * v); };
  line << std::fixed << std::setprecision(4) << "epoch " << r.epoch + 1 << "/" << epochs << "  lr " << r.lr
       << std::setprecision(3) << "  train loss " << r.train_loss << " acc " << percent(r.train_acc);
  if (r.evaluated) line << "  test loss " << r.test.loss << " " << task.describe(r.test);
  line << "  bp " << r.samples_backward << "/" << r.epoch_dataset_size;
  if (r.noisy_backward_fraction) line << "  noisy " << percent(*r.noisy_backward_fraction);
  line << std::setprecision(1) << "  " << r.time.epoch_total << "s (" << std::setprecision(0) << images_per_second
       << " img/s)";
  return line.str();
}

std::string format_done(const nlohmann::json& summary, const Task& task, const std::string& run_dir) {
  const std::string headline = task.headline_metric();
  const auto shown = [&](const std::string& kind) {
    const auto& v = summary[kind + "_test_" + headline];
    return v.is_null() ? std::string("n/a") : task.format_headline(v.get<double>());
  };
  return fmt::format("done: final test {} {}, best {} (epoch {}), train time {:.1f}s -> {}", headline, shown("final"),
                     shown("best"), summary["best_epoch"].get<int64_t>() + 1, summary["train_time_s"].get<double>(),
                     run_dir);
}

}  // namespace esrun
