#include "esrun/optim/optimizer.h"

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
  if (!options.no_decay_bias_norm.value_or(model.default_no_decay()))
    return optimizers().create(options.name, where, options, model.parameters());
  const auto exempt = model.no_decay_parameters();
  std::vector<torch::Tensor> decay, no_decay;
  for (const auto& item : model.named_parameters()) {
    const bool listed = std::find(exempt.begin(), exempt.end(), item.key()) != exempt.end();
    (item.value().dim() <= 1 || listed ? no_decay : decay).push_back(item.value());
  }
  if (decay.empty()) {
    auto optimizer = optimizers().create(options.name, where, options, no_decay);
    set_weight_decay(optimizer->param_groups()[0].options(), 0.0);
    return optimizer;
  }
  auto optimizer = optimizers().create(options.name, where, options, decay);
  if (!no_decay.empty()) {
    auto group_options = optimizer->defaults().clone();
    set_weight_decay(*group_options, 0.0);
    optimizer->add_param_group(torch::optim::OptimizerParamGroup(no_decay, std::move(group_options)));
  }
  return optimizer;
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
