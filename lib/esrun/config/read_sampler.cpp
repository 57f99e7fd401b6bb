// The sampler section's reader (config/readers.h): the policy's keys, its defaults for the keys left
// null (recorded in the resolved config with a note), and b and b/B resolved from each other.
#include <algorithm>
#include <cmath>

#include "esrun/config/readers.h"
#include "esrun/core/error.h"

namespace esrun {
namespace {

// The values a policy uses for sampler keys left null, as it declares them (ComponentFacts::defaults:
// the papers' defaults, docs/methods.md); keys it declares none for fall back to these. A declared
// default may name another key, whose value it then is (omission's b/B is its sampler.keep).
struct SamplerDefaults {
  double ratio = 1.0;
  double beta1 = 0.2, beta2 = 0.9;
  double prune_ratio = 0.0;
  std::string ratio_from;  // the key the ratio's default is the value of, or empty
};

SamplerDefaults sampler_defaults(const ResolvedConfig& c, const std::string& name) {
  const auto declared = registry_of("sampler").facts(name).defaults;
  SamplerDefaults d;
  for (const auto& [key, text] : declared) {
    const bool named = find_key(text) != nullptr;
    const double value = named ? c.get_float(text) : YAML::Load(text).as<double>();
    if (key == "sampler.ratio") d.ratio = value, d.ratio_from = named ? text : "";
    else if (key == "sampler.beta1") d.beta1 = value;
    else if (key == "sampler.beta2") d.beta2 = value;
    else if (key == "sampler.prune_ratio") d.prune_ratio = value;
    else ESRUN_INTERNAL_CHECK(false, "sampler '", name, "' declares a default for ", key, ", which config/ does not resolve");
  }
  return d;
}

// Writes the values the policy chose for the sampler keys it reads and the user left null into the
// config, each with a note saying so: config.resolved.yaml, print-config and the hash then record
// the beta, the annealing length and the b a run used, and a run that relied on a default has the
// same config as one that spelled it out.
// A value recorded with a note (default or derived) keeps it only while it is that default; one
// the user changed in a saved file is the user's.
void resolve_sampler_nulls(ResolvedConfig& c, const SamplerOptions& p, const SamplerDefaults& defaults, double ratio,
                           int64_t epochs) {
  const std::string policy_default = "default (" + p.name + ")";
  const auto fill = [&](const std::string& path, const YAML::Node& value, const YAML::Node& default_value,
                        const std::string& note) {
    if (!reads(p.name, path)) return;
    if (c.value(path).IsNull()) c.resolve_null(path, value, note);
    else if (!c.origin(path).note.empty() && flow_yaml(c.value(path)) != flow_yaml(default_value)) c.drop_note(path);
  };
  const YAML::Node b(p.resolved_mini_batch);
  const YAML::Node default_ratio = yaml_number(defaults.ratio);
  fill("sampler.beta1", yaml_number(p.beta1), yaml_number(defaults.beta1), policy_default);
  fill("sampler.beta2", yaml_number(p.beta2), yaml_number(defaults.beta2), policy_default);
  fill("sampler.anneal_epochs", YAML::Node(p.anneal_epochs), YAML::Node(std::llround(0.05 * static_cast<double>(epochs))),
       policy_default + ": round(0.05 * train.epochs)");
  fill("sampler.prune_ratio", yaml_number(p.prune_ratio), yaml_number(defaults.prune_ratio), policy_default);
  if (p.mini_batch)
    fill("sampler.ratio", yaml_number(ratio), yaml_number(ratio), "derived: mini_batch / meta_batch");
  else
    fill("sampler.ratio", yaml_number(ratio), default_ratio,
         policy_default + (defaults.ratio_from.empty() ? "" : ": " + defaults.ratio_from.substr(8)));
  fill("sampler.mini_batch", b, b, "derived: round(ratio * meta_batch)");
}

// b from mini_batch, else from ratio, else from the policy's ratio; the rows of a training step
// within train.accumulate's bound. Returns b/B.
double resolve_mini_batch(const Checker& check, SamplerOptions& p, const SamplerDefaults& defaults, const TrainOptions& t) {
  const ResolvedConfig& c = check.config();
  // b from mini_batch, else from ratio, else from the policy's ratio (omission's batch level spends
  // its budget keep * B per meta-batch). Both may be set when they agree (config.resolved.yaml).
  const auto b_of = [&p](double ratio) {
    return std::max<int64_t>(1, std::llround(ratio * static_cast<double>(p.meta_batch)));
  };
  ESRUN_CHECK(!p.ratio || (*p.ratio > 0 && *p.ratio <= 1), c.where("sampler.ratio"), ": expected a number in (0, 1], got ",
              p.ratio.value_or(0));
  ESRUN_CHECK(!(p.mini_batch && p.ratio) || *p.mini_batch == b_of(*p.ratio), c.where("sampler.mini_batch"), " = ",
              p.mini_batch.value_or(0), " and ", c.where("sampler.ratio"), " = ", p.ratio.value_or(0),
              " disagree: ratio * meta_batch ", p.meta_batch, " gives b = ", b_of(p.ratio.value_or(0)),
              "; set one of them and the other to null");
  const double ratio = p.ratio   ? *p.ratio
                       : p.mini_batch ? static_cast<double>(*p.mini_batch) / static_cast<double>(p.meta_batch)
                       : defaults.ratio;
  p.resolved_mini_batch = p.mini_batch.value_or(b_of(ratio));
  ESRUN_CHECK(p.resolved_mini_batch <= p.meta_batch, c.where("sampler.mini_batch"),
              ": expected mini-batch b <= meta-batch B = ", p.meta_batch, ", got ", p.resolved_mini_batch);
  // The rows of one training step: b for the batch-level policies, except AdaSelection's full
  // batches of B; B for the others, which ignore b.
  const bool full_batches = reads(p.name, "sampler.full_batches") && p.full_batches;
  const int64_t step_rows = !reads(p.name, "sampler.mini_batch") || full_batches ? p.meta_batch : p.resolved_mini_batch;
  ESRUN_CHECK(!t.accumulate || *t.accumulate <= step_rows, c.where("train.accumulate"),
              ": expected micro-batches of at most the ", step_rows, " rows of a training step (the mini-batch b), got ",
              *t.accumulate);
  return ratio;
}

}  // namespace

SamplerOptions read_sampler(const Checker& check, const TrainOptions& t, ResolvedConfig& resolved) {
  const ResolvedConfig& c = check.config();
  SamplerOptions p;
  p.name = check.registered("sampler", "sampler.name");
  const SamplerDefaults defaults = sampler_defaults(c, p.name);
  p.meta_batch = check.int_at_least("sampler.meta_batch", 1);
  p.mini_batch = check.optional_int_at_least("sampler.mini_batch", 1);
  p.ratio = c.get_optional_float("sampler.ratio");
  p.drop_last = c.get_bool("sampler.drop_last");
  p.unbiased = c.get_bool("sampler.unbiased");
  p.adaptive_q = c.get_bool("sampler.adaptive_q");
  p.beta1 = c.get_optional_float("sampler.beta1").value_or(defaults.beta1);
  p.beta2 = c.get_optional_float("sampler.beta2").value_or(defaults.beta2);
  for (const auto& [key, value] : {std::pair{"sampler.beta1", p.beta1}, std::pair{"sampler.beta2", p.beta2}})
    ESRUN_CHECK(value >= 0 && value < 1, c.where(key), ": expected a number in [0, 1), got ", value);
  p.anneal_epochs = check.optional_int_at_least("sampler.anneal_epochs", 0)
                        .value_or(std::llround(0.05 * static_cast<double>(t.epochs)));
  ESRUN_CHECK(2 * p.anneal_epochs < t.epochs, c.where("sampler.anneal_epochs"), ": ", p.anneal_epochs,
              " annealing epochs at each end of ", t.epochs, " epochs leave none that selects; expected < epochs / 2");
  p.prune_ratio = c.get_optional_float("sampler.prune_ratio").value_or(defaults.prune_ratio);
  ESRUN_CHECK(p.prune_ratio >= 0 && p.prune_ratio < 1, c.where("sampler.prune_ratio"),
              ": expected a number in [0, 1), got ", p.prune_ratio);
  p.delta = check.float_in("sampler.delta", 0.0, 1.0, true);
  p.ema = c.get_bool("sampler.ema");
  p.rescale = c.get_bool("sampler.rescale");
  p.level = c.get_string("sampler.level");
  p.keep = check.float_in("sampler.keep", 0.0, 1.0, true);
  ESRUN_CHECK(p.keep > 0, c.where("sampler.keep"), ": expected a number in (0, 1], got 0");
  p.alpha = check.float_in("sampler.alpha", 0.0, 1.0, true);
  p.candidates = c.get_optional_strings("sampler.candidates").value_or(std::vector<std::string>{});
  static const std::vector<std::string> known_candidates = {"big_loss", "small_loss", "uniform", "grad_norm",
                                                            "adaboost", "coreset1", "coreset2"};
  ESRUN_CHECK(!p.candidates.empty(), c.where("sampler.candidates"), ": expected at least one candidate method");
  for (const auto& candidate : p.candidates)
    ESRUN_CHECK(std::find(known_candidates.begin(), known_candidates.end(), candidate) != known_candidates.end(),
                c.where("sampler.candidates"), ": unknown candidate '", candidate,
                "'; known: big_loss, small_loss, uniform, grad_norm, adaboost, coreset1, coreset2");
  p.method_beta = check.float_in("sampler.method_beta", -1.0, 1.0, true);
  p.cl_gamma = c.get_optional_float("sampler.cl_gamma");
  p.full_batches = c.get_bool("sampler.full_batches");
  p.sb_beta = check.positive("sampler.sb_beta");
  p.p_min = check.float_in("sampler.p_min", 0.0, 1.0, true);
  p.history = check.int_at_least("sampler.history", 1);
  p.period = check.int_at_least("sampler.period", 1);
  p.ucb_c = check.float_in("sampler.ucb_c", 0.0, 1e9, true);
  p.epsilon = check.float_in("sampler.epsilon", 0.0, 1.0, true);
  p.hide_fraction = check.float_in("sampler.hide_fraction", 0.0, 1.0, false);
  p.confidence = check.float_in("sampler.confidence", 0.0, 1.0, true);
  p.scores = c.get_optional_string("sampler.scores");
  ESRUN_CHECK(p.scores || !reads(p.name, "sampler.scores"), c.where("sampler.scores"), ": ", p.name,
              " needs the scores file esrun score wrote (esrun score --config X --method M --out scores.pt)");
  p.score_keep = c.get_string("sampler.score_keep");
  p.strata = check.int_at_least("sampler.strata", 1);
  p.hard_cutoff = check.float_in("sampler.hard_cutoff", 0.0, 1.0, false);
  check.warn_ignored("sampler", p.name);
  const double ratio = resolve_mini_batch(check, p, defaults, t);
  resolve_sampler_nulls(resolved, p, defaults, ratio, t.epochs);
  return p;
}

}  // namespace esrun
