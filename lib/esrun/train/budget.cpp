#include "esrun/train/budget.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "esrun/core/error.h"

namespace esrun {

Spent Spent::operator+(const Spent& o) const {
  return Spent{epochs + o.epochs, steps + o.steps, samples + o.samples, seconds + o.seconds};
}

Spent Spent::operator-(const Spent& o) const {
  return Spent{epochs - o.epochs, steps - o.steps, samples - o.samples, seconds - o.seconds};
}

// [epochs, steps, samples, seconds] as doubles (exact for counts below 2^53).
void save_spent(torch::serialize::OutputArchive& archive, const std::string& key, const Spent& s) {
  archive.write(key, torch::tensor({static_cast<double>(s.epochs), static_cast<double>(s.steps),
                                    static_cast<double>(s.samples), s.seconds}, torch::kDouble));
}

Spent read_spent(torch::serialize::InputArchive& archive, const std::string& key) {
  torch::Tensor t;
  archive.read(key, t);
  ESRUN_CHECK(t.dim() == 1 && t.size(0) == 4, "its '", key, "' holds ", t.numel(), " values; expected 4");
  const auto count = [&](int64_t i) { return static_cast<int64_t>(t[i].item<double>()); };
  return Spent{count(0), count(1), count(2), t[3].item<double>()};
}

nlohmann::json to_json(const Work& work) {
  const auto counts = [](const std::map<int64_t, int64_t>& by_rows) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [rows, count] : by_rows) out[std::to_string(rows)] = count;
    return out;
  };
  return {{"train_steps", counts(work.steps)}, {"forwards", counts(work.forwards)}};
}

namespace {

// A map of counts as an int64 [k, 2] tensor of (rows, count) pairs.
torch::Tensor as_pairs(const std::map<int64_t, int64_t>& by_rows) {
  std::vector<int64_t> flat;
  for (const auto& [rows, count] : by_rows) flat.insert(flat.end(), {rows, count});
  return torch::tensor(flat, torch::kLong).view({-1, 2});
}

std::map<int64_t, int64_t> from_pairs(const torch::Tensor& pairs, const std::string& key) {
  ESRUN_CHECK(pairs.dim() == 2 && pairs.size(1) == 2, "its '", key, "' is not a list of (rows, count) pairs");
  std::map<int64_t, int64_t> out;
  const auto cpu = pairs.to(torch::kLong).contiguous();
  for (int64_t i = 0; i < cpu.size(0); ++i) out[cpu[i][0].item<int64_t>()] = cpu[i][1].item<int64_t>();
  return out;
}

}  // namespace

void save_work(torch::serialize::OutputArchive& archive, const Work& work) {
  archive.write("work_steps", as_pairs(work.steps));
  archive.write("work_forwards", as_pairs(work.forwards));
  archive.write("work_from_start", torch::tensor(work.from_start ? 1 : 0, torch::kLong));
}

Work read_work(torch::serialize::InputArchive& archive) {
  torch::Tensor steps, forwards;
  archive.read("work_steps", steps);
  archive.read("work_forwards", forwards);
  torch::Tensor from_start = torch::tensor(int64_t{1});
  archive.try_read("work_from_start", from_start);
  return Work{from_pairs(steps, "work_steps"), from_pairs(forwards, "work_forwards"), from_start.item<int64_t>() != 0};
}

Budget::Budget(const BudgetOptions& options, int64_t configured_epochs, int64_t policy_epochs) : kind_(options.kind) {
  ESRUN_INTERNAL_CHECK(configured_epochs > 0 && policy_epochs > 0, "a budget over ", configured_epochs, " and ",
                       policy_epochs, " epochs");
  const double ratio = static_cast<double>(policy_epochs) / static_cast<double>(configured_epochs);
  switch (kind_) {
    case BudgetKind::Epochs: amount_ = static_cast<double>(policy_epochs); break;
    case BudgetKind::Steps:
    case BudgetKind::Samples: amount_ = std::max(1.0, std::round(options.amount * ratio)); break;
    case BudgetKind::Seconds: amount_ = options.amount * ratio; break;
  }
}

double Budget::used(const Spent& s) const {
  switch (kind_) {
    case BudgetKind::Epochs: return static_cast<double>(s.epochs);
    case BudgetKind::Steps: return static_cast<double>(s.steps);
    case BudgetKind::Samples: return static_cast<double>(s.samples);
    case BudgetKind::Seconds: return s.seconds;
  }
  return 0;
}

double Budget::fraction(const Spent& spent) const { return std::clamp(used(spent) / amount_, 0.0, 1.0); }

int64_t Budget::samples_left(const Spent& spent) const {
  if (kind_ != BudgetKind::Samples) return std::numeric_limits<int64_t>::max();
  return std::max<int64_t>(0, static_cast<int64_t>(amount_) - spent.samples);
}

int64_t Budget::expected_epochs(const Spent& spent, const Spent& last, const Spent& plain, int64_t fallback) const {
  if (by_epochs()) return static_cast<int64_t>(amount_);
  const double rate = spent.epochs > 0 && used(last) > 0 ? used(last) : used(plain);
  if (!(rate > 0)) return std::max(fallback, spent.epochs + 1);
  const double rest = std::max(0.0, amount_ - used(spent));
  // A tolerance, so that a budget of exactly k epochs' consumption expects k, not k + 1.
  return spent.epochs + std::max<int64_t>(1, static_cast<int64_t>(std::ceil(rest / rate - 1e-9)));
}

}  // namespace esrun
