// How much a run trains (train.budget) and how far it has come. A budget is counted in epochs (the
// default: train.epochs), optimizer steps, samples back-propagated or seconds of training. The LR
// schedule's progress is the fraction of the budget spent, times the epochs the schedule spans, so a
// run ends with its schedule fully decayed whatever the kind; the policies' epoch schedules follow
// the epochs the budget is expected to last (expected_epochs).
#pragma once

#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <string>

#include "esrun/config/run_config.h"

namespace esrun {

// What training has consumed: finished epochs, optimizer steps (a step skipped for a non-finite
// loss counts), samples back-propagated and seconds of training (evaluation excluded).
struct Spent {
  int64_t epochs = 0;
  int64_t steps = 0;
  int64_t samples = 0;
  double seconds = 0;

  Spent operator+(const Spent& other) const;
  Spent operator-(const Spent& other) const;
};

// The work of a run: how many training steps it took at each number of rows (every rank's together),
// and how many forwards without gradient (scoring, refresh). Costed with `esrun bench`'s per-size
// seconds it is the run's reference time (scripts/esrunpy/reference_time.py), which, unlike the
// wall clock, a busy machine does not change.
struct Work {
  std::map<int64_t, int64_t> steps, forwards;  // rows -> count
  // False after resuming a checkpoint of an esrun that did not count (format 1 or 2): the counts,
  // and the optimizer steps spent, then cover only the training since.
  bool from_start = true;
};
// {"train_steps": {"64": 120, ...}, "forwards": {"64": 80, ...}} (summary.json's "work").
nlohmann::json to_json(const Work& work);
void save_work(torch::serialize::OutputArchive& archive, const Work& work);
Work read_work(torch::serialize::InputArchive& archive);

// A checkpoint's copy of a Spent, under `key`.
void save_spent(torch::serialize::OutputArchive& archive, const std::string& key, const Spent& spent);
Spent read_spent(torch::serialize::InputArchive& archive, const std::string& key);

class Budget {
 public:
  // `configured_epochs` is train.epochs, `policy_epochs` the epochs the policy trains of them
  // (reduced_epochs trains fewer): an epochs budget is the policy's count, and any other budget
  // shrinks by the same ratio.
  Budget(const BudgetOptions& options, int64_t configured_epochs, int64_t policy_epochs);

  BudgetKind kind() const { return kind_; }
  bool by_epochs() const { return kind_ == BudgetKind::Epochs; }
  double amount() const { return amount_; }  // in the kind's unit, after the policy's ratio
  // `spent` in the budget's unit.
  double used(const Spent& spent) const;
  bool exhausted(const Spent& spent) const { return used(spent) >= amount_; }
  // The fraction of the budget spent, in [0, 1].
  double fraction(const Spent& spent) const;
  // Samples that may still be back-propagated: the rest of a samples budget, else unlimited.
  int64_t samples_left(const Spent& spent) const;
  // The epochs a run is expected to last at the start of its next epoch (`spent.epochs` finished):
  // those finished plus the rest of the budget at the rate of the last finished epoch (`last`), or
  // of a plain epoch (`plain`: n/B steps, n samples) before any finished; `fallback` when neither
  // says (a seconds budget before its first epoch). At least one more epoch.
  int64_t expected_epochs(const Spent& spent, const Spent& last, const Spent& plain, int64_t fallback) const;

 private:
  BudgetKind kind_;
  double amount_;
};

}  // namespace esrun
