#include "esrun/scoring/scorer.h"

#include <spdlog/fmt/fmt.h>

#include <sstream>

#include "esrun/core/error.h"
#include "esrun/core/files.h"
#include "esrun/core/sealed_archive.h"
#include "esrun/core/stop.h"
#include "esrun/train/trainer.h"

namespace esrun {

namespace {
constexpr const char* kFormat = "esrun-scores/1";
}  // namespace

ScorerRegistry& scorers() {
  static ScorerRegistry registry("scorer");
  return registry;
}

std::vector<ScoringPart> Scorer::parts(int64_t /*n*/) const {
  std::vector<ScoringPart> out;
  for (int64_t r = 0; r < config().score.repeats; ++r) out.push_back(ScoringPart{r, {}, {}});
  return out;
}

void write_scores(const std::filesystem::path& file, const ScoresFile& scores) {
  torch::serialize::OutputArchive archive;
  nlohmann::json meta = scores.meta;
  meta["format"] = kFormat;
  archive.write("scores", scores.scores.to(torch::kCPU, torch::kDouble).contiguous());
  archive.write("excluded", scores.excluded.defined() ? scores.excluded.to(torch::kCPU, torch::kBool)
                                                      : torch::zeros_like(scores.scores, torch::kBool).cpu());
  archive.write("meta", c10::IValue(meta.dump()));
  write_file_atomic(file, seal_archive(archive));
}

ScoresFile read_scores(const std::string& file, const std::string& where, const DataIdentity& data) {
  ESRUN_CHECK(std::filesystem::is_regular_file(file), where, ": scores file '", file,
              "' does not exist; make it with esrun score --config CONFIG --method METHOD --out ", file);
  ScoresFile out;
  torch::serialize::InputArchive archive;
  try {
    archive = open_sealed_archive(file, "the scores file");
  } catch (const Error& e) {
    ESRUN_FAIL(where, ": ", e.what());
  }
  try {
    c10::IValue meta;
    archive.read("meta", meta);
    out.meta = nlohmann::json::parse(meta.toStringRef());
    archive.read("scores", out.scores);
    archive.read("excluded", out.excluded);
  } catch (const nlohmann::json::exception& e) {
    ESRUN_FAIL(where, ": '", file, "' has unreadable metadata (", e.what(), ")");
  } catch (const std::exception& e) {  // c10::Error, or TorchScript's error for another kind of archive
    ESRUN_FAIL(where, ": '", file, "' is not an esrun scores file (", libtorch_reason(e), ")");
  }
  std::string made_for;
  try {
    ESRUN_CHECK(out.meta.value("format", "") == kFormat, where, ": '", file, "' is not an esrun scores file (format '",
                out.meta.value("format", ""), "', expected ", kFormat, ")");
    const auto& made = out.meta.at("data");
    made_for = fmt::format("{} with {} training samples (checksum {})", made.at("dataset").get<std::string>(),
                           made.at("train_size").get<int64_t>(), made.at("checksum").get<std::string>());
  } catch (const nlohmann::json::exception& e) {
    ESRUN_FAIL(where, ": '", file, "' has incomplete metadata (", e.what(), ")");
  }
  const std::string runs_on =
      fmt::format("{} with {} training samples (checksum {})", data.dataset, data.train_size, data.checksum);
  ESRUN_CHECK(made_for == runs_on, where, ": '", file, "' was made for ", made_for, ", but this run trains on ", runs_on,
              " (another dataset, subset, data seed or label noise); score this config's data with esrun score");
  ESRUN_CHECK(out.scores.layout() == torch::kStrided && out.excluded.layout() == torch::kStrided &&
                  out.scores.is_floating_point(),
              where, ": '", file, "' is not an esrun scores file (its scores are not a dense floating-point tensor)");
  ESRUN_CHECK(out.scores.dim() == 1 && out.scores.size(0) == data.train_size && out.excluded.sizes() == out.scores.sizes(),
              where, ": '", file, "' holds ", out.scores.numel(), " scores for ", data.train_size, " training samples");
  out.scores = out.scores.to(torch::kDouble);
  out.excluded = out.excluded.to(torch::kBool);
  const auto bad = torch::nonzero(~torch::isfinite(out.scores)).flatten();
  ESRUN_CHECK(bad.numel() == 0, where, ": '", file, "' has ", bad.numel(), " non-finite scores (the first at row ",
              bad.numel() > 0 ? bad[0].item<int64_t>() : 0, ")");
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
