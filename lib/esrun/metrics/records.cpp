#include "esrun/metrics/records.h"

#include <sstream>

namespace esrun {

namespace {

using nlohmann::json;

json optional(const std::optional<double>& v) { return v ? json(*v) : json(nullptr); }

// test_loss, test_acc, ... test_score: every task's fields, null where they do not apply or
// nothing was evaluated.
void add_test_fields(json& out, const Evaluation* test) {
  const auto field = [&](const std::optional<double>& v) { return test ? optional(v) : json(nullptr); };
  out["test_loss"] = test ? json(test->loss) : json(nullptr);
  const std::pair<const char*, std::optional<double> Evaluation::*> metrics[] = {
      {"test_acc", &Evaluation::acc},   {"test_acc5", &Evaluation::acc5},         {"test_mse", &Evaluation::mse},
      {"test_rmse", &Evaluation::rmse}, {"test_mae", &Evaluation::mae},           {"test_r2", &Evaluation::r2},
      {"test_f1", &Evaluation::f1},     {"test_mcc", &Evaluation::mcc},           {"test_pearson", &Evaluation::pearson},
      {"test_spearman", &Evaluation::spearman}, {"test_perplexity", &Evaluation::perplexity}};
  for (const auto& [key, member] : metrics) out[key] = test ? field(test->*member) : json(nullptr);
  out["test_score"] = test ? json(test->score) : json(nullptr);
}

}  // namespace

json to_json(const EpochRecord& r) {
  const auto phase = [&](double v) { return r.time.per_phase ? json(v) : json(nullptr); };
  json out{{"epoch", r.epoch}, {"lr", r.lr}, {"train_loss", r.train_loss}, {"train_acc", r.train_acc}};
  add_test_fields(out, r.evaluated ? &r.test : nullptr);
  out.update({
      {"samples_forward", r.samples_forward},
      {"samples_backward", r.samples_backward},
      {"samples_backward_total", r.samples_backward_total},
      {"backward_passes", r.backward_passes},
      {"optimizer_steps", r.optimizer_steps},
      {"optimizer_steps_total", r.optimizer_steps_total},
      {"epoch_dataset_size", r.epoch_dataset_size},
      {"noisy_backward_fraction", optional(r.noisy_backward_fraction)},
      {"time",
       {{"epoch_total", r.time.epoch_total},
        {"data", phase(r.time.data)},
        {"score_forward", phase(r.time.score_forward)},
        {"select", phase(r.time.select)},
        {"train_step", phase(r.time.train_step)},
        {"gather", r.time.gather},
        {"reduce", r.time.reduce},
        {"eval", r.time.eval},
        {"train_total_so_far", r.time.train_total_so_far}}},
  });
  return out;
}

std::string json_lines(const std::vector<json>& values) {
  std::string text;
  for (const auto& value : values) text += value.dump() + "\n";
  return text;
}

std::vector<json> parse_json_lines(const std::string& text) {
  std::vector<json> values;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);)
    if (!line.empty()) values.push_back(json::parse(line));
  return values;
}

json to_json(const EvaluationPoint& p) {
  json out{{"epoch", p.epoch},
           {"step", p.step},
           {"optimizer_steps", p.optimizer_steps},
           {"samples_backward", p.samples_backward},
           {"train_time_s", p.train_seconds}};
  add_test_fields(out, &p.test);
  return out;
}

}  // namespace esrun
