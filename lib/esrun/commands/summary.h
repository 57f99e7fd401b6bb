// What a run reports: the progress line of each epoch, and summary.json at the end (the last and
// the best evaluation, the run's totals, its sampler's settings and where and how it ran).
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "esrun/config/run_config.h"
#include "esrun/metrics/records.h"
#include "esrun/train/budget.h"

namespace esrun {

class Task;

// The sampler keys the policy reads, as the run uses them (defaults resolved; summary.json's
// "sampler"): {"name": "es", "meta_batch": 128, "mini_batch": 32, "ratio": 0.25, "beta1": 0.2, ...}.
nlohmann::json sampler_settings(const RunConfig& config);

// The test metrics of the last evaluation (final_test_*) and of the best one by the task's score
// (best_test_*: the highest test_score, the task's headline metric), null where the task has none,
// and the totals over the metrics records.
nlohmann::json summarise(const std::vector<nlohmann::json>& records);

// summary.json's time_to_target: for each target of the headline metric `metric` (reached when the
// value is at least the target, at most when `lower_is_better`), the first of `evaluations`
// (evaluations.jsonl's lines, in order) that reached it: {"target", "reached": true, "epoch",
// "optimizer_steps", "samples_backward", "train_time_s"}, or {"target", "reached": false} with the
// others null.
nlohmann::json time_to_target(const std::vector<nlohmann::json>& evaluations, const std::vector<double>& targets,
                              const std::string& metric, bool lower_is_better);

// summary.json's budget: its kind, amount (after the policy's ratio) and what the run reached of
// each unit: {"kind", "amount", "reached": {"epochs", "steps", "samples", "seconds"}}.
nlohmann::json budget_summary(const Budget& budget, const Spent& reached);

// One epoch's log line: "epoch 3/15  lr 0.1000  train loss 0.512 acc 81.20%  test loss ...".
std::string format_record(const EpochRecord& record, const Task& task, int64_t epochs, double images_per_second);

// The run's last log line: final and best headline metric, train time, where the run is.
std::string format_done(const nlohmann::json& summary, const Task& task, const std::string& run_dir);

}  // namespace esrun
