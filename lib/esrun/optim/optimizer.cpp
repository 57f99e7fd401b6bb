#include "esrun/optim/optimizer.h"

#include <algorithm>

#include "esrun/core/error.h"

namespace esrun {

OptimizerRegistry& optimizers() {
  static OptimizerRegistry registry("optimizer");
  return registry;
}

namespace {

void set_weight_decay(torch::optim::OptimizerOptions& options, double decay) {
  if (auto* sgd = dynamic_cast<torch::optim::SGDOptions*>(&options)) sgd->weight_decay(decay);
  else if (auto* adam = dynamic_cast<torch::optim::AdamOptions*>(&options)) adam->weight_decay(decay);
  else if (auto* adamw = dynamic_cast<torch::optim::AdamWOptions*>(&options)) adamw->weight_decay(decay);
  else ESRUN_FAIL("optimizer.no_decay_bias_norm: this optimizer's options have no weight decay esrun knows how to set");
}

}  // namespace

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const OptimizerOptions& options, const std::string& where,
                                                        const Model& model) {
  // Groups by (weight decay off, learning-rate scale), in the order their first parameter comes.
  const bool exempting = options.no_decay_bias_norm.value_or(model.default_no_decay());
  const auto exempt = model.no_decay_parameters();
  std::vector<std::pair<std::pair<bool, double>, std::vector<torch::Tensor>>> groups;
  for (const auto& item : model.named_parameters()) {
    if (!item.value().requires_grad()) continue;  // frozen
    const bool listed = std::find(exempt.begin(), exempt.end(), item.key()) != exempt.end();
    const std::pair<bool, double> key{exempting && (item.value().dim() <= 1 || listed), model.lr_scale(item.key())};
    auto group = std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g.first == key; });
    if (group == groups.end()) group = groups.insert(groups.end(), {key, {}});
    group->second.push_back(item.value());
  }
  ESRUN_CHECK(!groups.empty(), where, ": every parameter of the model is frozen; nothing to train");
  // Decayed groups first, so that a model without exempt tensors keeps one group as before.
  std::stable_sort(groups.begin(), groups.end(), [](const auto& a, const auto& b) { return a.first.first < b.first.first; });
  auto optimizer = optimizers().create(options.name, where, options, groups.front().second);
  if (groups.front().first.first) set_weight_decay(optimizer->param_groups()[0].options(), 0.0);
  for (size_t i = 1; i < groups.size(); ++i) {
    auto group_options = optimizer->defaults().clone();
    if (groups[i].first.first) set_weight_decay(*group_options, 0.0);
    optimizer->add_param_group(torch::optim::OptimizerParamGroup(groups[i].second, std::move(group_options)));
  }
  return optimizer;
}

std::vector<double> group_lr_scales(const torch::optim::Optimizer& optimizer, const Model& model) {
  std::vector<double> scales;
  const auto named = model.named_parameters();
  for (const auto& group : optimizer.param_groups()) {
    const auto* first = group.params().front().unsafeGetTensorImpl();
    double scale = 1.0;
    for (const auto& item : named)
      if (item.value().unsafeGetTensorImpl() == first) scale = model.lr_scale(item.key());
    scales.push_back(scale);
  }
  return scales;
}

void set_momentum(torch::optim::Optimizer& optimizer, double momentum) {
  for (auto& group : optimizer.param_groups()) {
    auto& options = group.options();
    if (auto* sgd = dynamic_cast<torch::optim::SGDOptions*>(&options)) {
      sgd->momentum(momentum);
    } else if (auto* adam = dynamic_cast<torch::optim::AdamOptions*>(&options)) {
      adam->betas({momentum, std::get<1>(adam->betas())});
    } else if (auto* adamw = dynamic_cast<torch::optim::AdamWOptions*>(&options)) {
      adamw->betas({momentum, std::get<1>(adamw->betas())});
    }
  }
}

void clip_grad_norm(const std::vector<torch::Tensor>& parameters, double max_norm) {
  std::vector<torch::Tensor> grads, norms;
  for (const auto& p : parameters) {
    if (!p.grad().defined()) continue;
    grads.push_back(p.grad());
    norms.push_back(p.grad().detach().to(torch::kFloat).norm());
  }
  if (grads.empty()) return;
  const auto total = torch::stack(norms).norm();
  const auto coefficient = (max_norm / (total + 1e-6)).clamp_max(1.0);
  torch::NoGradGuard no_grad;
  for (auto& g : grads) g.mul_(coefficient.to(g.scalar_type()));
}

}  // namespace esrun
