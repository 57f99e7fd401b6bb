#include "esrun/scoring/scorer.h"

#include <spdlog/fmt/fmt.h>

#include <sstream>

#include "esrun/core/error.h"
#include "esrun/core/stop.h"
#include "esrun/train/trainer.h"

namespace esrun {

ScorerRegistry& scorers() {
  static ScorerRegistry registry("scorer");
  return registry;
}

std::vector<ScoringPart> Scorer::parts(int64_t /*n*/) const {
  std::vector<ScoringPart> out;
  for (int64_t r = 0; r < config().score.repeats; ++r) out.push_back(ScoringPart{r, {}, {}});
  return out;
}

RowOutputs forward_rows(Trainer& trainer, const torch::Tensor& rows, int64_t batch, bool embeddings) {
  Model& model = trainer.model();
  torch::NoGradGuard no_grad;
  model.eval();
  std::vector<torch::Tensor> outputs;
  const auto all = rows.to(torch::kCPU, torch::kLong);
  for (int64_t begin = 0; begin < all.size(0) && stop_signal() == 0; begin += batch) {
    const auto inputs = trainer.plain_inputs(all.narrow(0, begin, std::min(batch, all.size(0) - begin)));
    outputs.push_back((embeddings ? model.embed(inputs) : model.forward(inputs)).to(torch::kFloat));
  }
  model.train();
  RowOutputs out;
  if (stop_signal() != 0) return out;
  (embeddings ? out.embeddings : out.outputs) = outputs.empty() ? torch::zeros({0, 1}) : torch::cat(outputs);
  const auto& targets = trainer.data().train.targets;
  out.targets = targets.index_select(0, all.to(targets.device()));
  return out;
}

torch::Tensor probabilities(Trainer& trainer, const torch::Tensor& rows, int64_t batch) {
  const auto outputs = forward_rows(trainer, rows, batch, false).outputs;
  return outputs.defined() ? torch::softmax(outputs, 1) : outputs;
}

void check_needs(Trainer& trainer, const ScorerNeeds& needs, const ScorerContext& context) {
  const std::string method = context.where("score.method");
  ESRUN_CHECK(!needs.classification || trainer.data().task == "classification", method, ": ", context.method,
              " scores class predictions, but the run's task is ", trainer.data().task,
              "; irreducible_loss and random score any task");
  ESRUN_CHECK(!needs.plain_inputs || trainer.data().train.in_memory(), method, ": ", context.method, " scores the "
              "un-augmented training rows, but ", trainer.data().name, " decodes its training images from files with "
              "the training augmentation; score an in-memory dataset");
  ESRUN_CHECK(!needs.embedding || trainer.model().has_embedding(), method, ": ", context.method,
              " works on penultimate-layer embeddings, which ", context.where("model.name"), " (",
              context.config->model.name, ") does not give (resnet, small_cnn, mlp, vit and transformer do)");
}

torch::Tensor per_class_pick_order(const RowOutputs& rows, const std::function<torch::Tensor(const torch::Tensor&)>& pick) {
  const auto targets = rows.targets.cpu();
  auto scores = torch::zeros({targets.size(0)}, torch::kDouble);
  for (const auto& label : std::get<0>(torch::_unique(targets)).unbind(0)) {
    const auto members = torch::nonzero(targets == label).flatten();
    const auto picked = pick(rows.embeddings.index_select(0, members.to(rows.embeddings.device())));
    if (!picked.defined()) return {};
    const auto order = picked.cpu();
    const auto size = static_cast<double>(members.size(0));
    const auto place = torch::arange(members.size(0), torch::kDouble);
    scores.index_put_({members.index_select(0, order)}, 1.0 - place / size);
  }
  return scores;
}

}  // namespace esrun
